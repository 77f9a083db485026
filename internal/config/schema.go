package config

import _ "embed"

// Schema is the JSON Schema (draft 2020-12) of the document, for editors and
// CI. It mirrors the types and their enums and patterns; Parse remains the
// authority, since the schema cannot express rules such as warning <=
// critical or refused destinations.
//
//go:embed vigil.schema.json
var Schema []byte
