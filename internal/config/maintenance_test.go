package config

import (
	"testing"
	"time"
)

// A recurring window is resolved by validation (time zone and start), so
// Active needs no zone lookup; until validated, or when validation failed,
// it is never active.
func TestRecurringWindowIsResolvedAtValidation(t *testing.T) {
	// 2025-06-13 is a Friday; Berlin is at UTC+2 in June.
	inside := mustTime(t, "2025-06-13T21:30:00Z")
	window := func() MaintenanceWindow {
		return MaintenanceWindow{Days: []string{"fri"}, At: "23:00", Duration: Duration(time.Hour), TimeZone: "Europe/Berlin"}
	}

	w := window()
	if w.Active(inside) {
		t.Error("a window not validated yet is active")
	}
	if err := w.ValidateAndSetDefaults(); err != nil {
		t.Fatal(err)
	}
	if !w.Active(inside) {
		t.Error("the validated window is not active inside it")
	}
	if w.Active(inside.Add(time.Hour)) {
		t.Error("the validated window is active at its end")
	}

	for name, broken := range map[string]func(*MaintenanceWindow){
		"bad day":       func(w *MaintenanceWindow) { w.Days = []string{"funday"} },
		"bad time zone": func(w *MaintenanceWindow) { w.TimeZone = "Mars/Olympus" },
		"too long":      func(w *MaintenanceWindow) { w.Duration = Duration(8 * 24 * time.Hour) },
	} {
		w := window()
		broken(&w)
		if err := w.ValidateAndSetDefaults(); err == nil {
			t.Fatalf("%s: validation passed", name)
		}
		if w.Active(inside) {
			t.Errorf("%s: a window that failed validation is active", name)
		}
	}

	// Validating again after a change drops what the first pass resolved.
	w = window()
	if err := w.ValidateAndSetDefaults(); err != nil {
		t.Fatal(err)
	}
	w.At = "25:00"
	if err := w.ValidateAndSetDefaults(); err == nil {
		t.Fatal("at 25:00 passed")
	}
	if w.Active(inside) {
		t.Error("a window that failed its second validation is active")
	}
}
