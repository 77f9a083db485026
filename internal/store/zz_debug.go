package store
const debugConflicts = true
