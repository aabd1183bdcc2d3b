// Package costmodel holds what CKKS operations cost on a machine: the
// measured times the compiler weighs when it chooses how to pack a layer
// (how many baby and giant steps, which row split). `fhec bench --calibrate`
// measures them and writes a table; `fhec compile --costs FILE` reads it.
// Without a table the compiler uses Default, measured on a 2-core x86
// machine at logN 13.
//
// The compiler needs only ratios (an operation's cost against a rotation),
// which vary little with the ring degree; the table keeps the times, per
// ring degree, so that a user can read and compare them.
package costmodel

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
)

// Version is the table format written by Write; Read refuses newer ones.
const Version = 1

// Entry is the cost of each operation at one ring degree, in milliseconds
// on one core, measured at the top level of a chain of Levels+1 primes with
// one key-switching prime.
type Entry struct {
	LogN   int `json:"logN"`
	Levels int `json:"levels"`
	// Rotation: a rotation by itself (decomposition, key product, mod-down,
	// automorphism), as a fold step of a dense layer runs.
	Rotation float64 `json:"rotation_ms"`
	// GiantStep and BabyStep: the marginal cost of one more giant or baby
	// step in a double-hoisted baby-step giant-step linear transform, and
	// PtMult that of one more diagonal (a ciphertext-plaintext product and
	// addition in the extended basis). Fitted by least squares to linear
	// transforms of several shapes.
	GiantStep float64 `json:"giant_step_ms"`
	BabyStep  float64 `json:"baby_step_ms"`
	PtMult    float64 `json:"pt_mult_ms"`
	// CtMult: a ciphertext-ciphertext product with relinearization.
	CtMult float64 `json:"ct_mult_ms"`
	// Rescale and Add: one rescale, one ciphertext addition.
	Rescale float64 `json:"rescale_ms"`
	Add     float64 `json:"add_ms"`
}

// Table is a set of entries, one per ring degree, and where they were measured.
type Table struct {
	Version int `json:"version"`
	// Machine describes where the table was measured (CPU, cores, Go version).
	Machine string  `json:"machine"`
	Entries []Entry `json:"entries"`
}

// Weights are an entry's costs relative to a rotation: what the packing
// choices compare.
type Weights struct {
	Rotation, GiantStep, BabyStep, PtMult float64
}

// Default is the table shipped with fhec: logN 13, level 2 of 3, measured
// on a quiet core of a 2-core x86 machine (the ratios the packing choices
// were tuned and checked against in paired measurements).
func Default() *Table {
	return &Table{Version: Version, Machine: "fhec default (2-core x86, logN 13)", Entries: []Entry{{
		LogN: 13, Levels: 2,
		Rotation: 9, GiantStep: 9, BabyStep: 1.35, PtMult: 0.18,
		CtMult: 10, Rescale: 1.2, Add: 0.05,
	}}}
}

// At is the entry for ring degree logN: its own, else the nearest measured
// one (the larger on a tie). The table must be valid.
func (t *Table) At(logN int) Entry {
	best := t.Entries[0]
	for _, e := range t.Entries[1:] {
		d, bd := abs(e.LogN-logN), abs(best.LogN-logN)
		if d < bd || d == bd && e.LogN > best.LogN {
			best = e
		}
	}
	return best
}

// Weights is the entry's costs relative to its rotation.
func (e Entry) Weights() Weights {
	return Weights{
		Rotation:  1,
		GiantStep: e.GiantStep / e.Rotation,
		BabyStep:  e.BabyStep / e.Rotation,
		PtMult:    e.PtMult / e.Rotation,
	}
}

// Validate checks that the table can be used: a known version, at least one
// entry, distinct ring degrees in [10, 17], and costs that are finite and
// positive (a zero or negative cost would make the compiler prefer doing
// more work).
func (t *Table) Validate() error {
	if t.Version < 1 || t.Version > Version {
		return fmt.Errorf("cost table version %d, this fhec reads versions 1 to %d", t.Version, Version)
	}
	if len(t.Entries) == 0 {
		return errors.New("cost table has no entries")
	}
	seen := map[int]bool{}
	for i, e := range t.Entries {
		if e.LogN < 10 || e.LogN > 17 {
			return fmt.Errorf("cost table entry %d: logN %d outside [10, 17]", i, e.LogN)
		}
		if seen[e.LogN] {
			return fmt.Errorf("cost table entry %d: logN %d appears twice", i, e.LogN)
		}
		seen[e.LogN] = true
		if e.Levels < 1 {
			return fmt.Errorf("cost table entry %d (logN %d): levels %d, want at least 1", i, e.LogN, e.Levels)
		}
		for _, f := range []struct {
			name string
			v    float64
		}{{"rotation_ms", e.Rotation}, {"giant_step_ms", e.GiantStep}, {"baby_step_ms", e.BabyStep}, {"pt_mult_ms", e.PtMult}, {"ct_mult_ms", e.CtMult}, {"rescale_ms", e.Rescale}, {"add_ms", e.Add}} {
			if !(f.v > 0) || math.IsInf(f.v, 0) {
				return fmt.Errorf("cost table entry %d (logN %d): %s is %v, want a positive finite time", i, e.LogN, f.name, f.v)
			}
		}
	}
	return nil
}

// maxTableBytes bounds what Read reads: a table is a few hundred bytes per
// ring degree, and a wrong path (a device, a model file) must not be read
// whole.
const maxTableBytes = 1 << 20

// Read reads and validates a table written by Write.
func Read(path string) (*Table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxTableBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxTableBytes {
		return nil, fmt.Errorf("%s: not an fhec cost table: more than %d bytes", path, maxTableBytes)
	}
	t, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// Parse decodes and validates a table; unknown fields are errors (a
// misspelt cost would otherwise be read as missing).
func Parse(b []byte) (*Table, error) {
	var t Table
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		return nil, fmt.Errorf("not an fhec cost table: %w", err)
	}
	if dec.More() {
		return nil, errors.New("not an fhec cost table: data after the table")
	}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	return &t, nil
}

// Marshal encodes the table (entries sorted by ring degree) as indented JSON.
func (t *Table) Marshal() ([]byte, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	c := *t
	c.Entries = slices.Clone(t.Entries)
	slices.SortFunc(c.Entries, func(a, b Entry) int { return a.LogN - b.LogN })
	b, err := json.MarshalIndent(&c, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// Write writes the table to path.
func (t *Table) Write(path string) error {
	b, err := t.Marshal()
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
