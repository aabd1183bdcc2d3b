package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"

	"google.golang.org/protobuf/proto"

	"planreader/planpb"
)

// Framing, as docs/plan-format.md specifies it (little-endian):
// "FHECPLAN", uint16 major, uint16 minor, uint64 payload length, payload
// (proto3 Plan), SHA-256 of the payload.
const (
	magic        = "FHECPLAN"
	knownMajor   = 1
	headerSize   = 20
	checksumSize = 32
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: planreader model.plan")
		os.Exit(2)
	}
	b, err := os.ReadFile(os.Args[1])
	if err == nil {
		err = summarize(os.Stdout, b)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "planreader:", err)
		os.Exit(1)
	}
}

// read checks the framing and decodes the payload.
func read(b []byte) (major, minor uint16, p *planpb.Plan, err error) {
	if len(b) < headerSize || string(b[:8]) != magic {
		return 0, 0, nil, errors.New("not an fhec plan file (bad magic or too short)")
	}
	major = binary.LittleEndian.Uint16(b[8:])
	minor = binary.LittleEndian.Uint16(b[10:])
	if major != knownMajor {
		return 0, 0, nil, fmt.Errorf("plan format %d.%d: this reader reads %d.x only", major, minor, knownMajor)
	}
	n := binary.LittleEndian.Uint64(b[12:])
	if rest := uint64(len(b) - headerSize); rest < checksumSize || n != rest-checksumSize {
		return 0, 0, nil, fmt.Errorf("payload length %d does not match the file size %d", n, len(b))
	}
	payload := b[headerSize : headerSize+int(n)]
	sum := sha256.Sum256(payload)
	if !bytes.Equal(sum[:], b[headerSize+int(n):]) {
		return 0, 0, nil, errors.New("SHA-256 checksum mismatch (corrupted)")
	}
	p = new(planpb.Plan)
	if err := proto.Unmarshal(payload, p); err != nil {
		return 0, 0, nil, fmt.Errorf("payload: %v", err)
	}
	return major, minor, p, nil
}

// check verifies the indices a runtime relies on.
func check(p *planpb.Plan) error {
	if p.Params == nil || len(p.Params.Q) == 0 {
		return errors.New("no CKKS parameters")
	}
	for i, ins := range p.Program {
		for _, a := range ins.Args {
			if a >= p.NumValues {
				return fmt.Errorf("instruction %d: argument %d out of range (%d values)", i, a, p.NumValues)
			}
		}
		if ins.Result >= p.NumValues {
			return fmt.Errorf("instruction %d: result %d out of range", i, ins.Result)
		}
		if ins.Op == planpb.Op_ENCODE && int(ins.Constant) >= len(p.Constants) {
			return fmt.Errorf("instruction %d: constant %d out of range", i, ins.Constant)
		}
	}
	for _, o := range p.Outputs {
		if o.Value >= p.NumValues {
			return fmt.Errorf("output %q: value %d out of range", o.Name, o.Value)
		}
	}
	return nil
}

func log2Sum(m []uint64) float64 {
	s := 0.0
	for _, v := range m {
		s += math.Log2(float64(v))
	}
	return s
}

// summarize prints one "key: value" line per fact.
func summarize(w io.Writer, b []byte) error {
	major, minor, p, err := read(b)
	if err != nil {
		return err
	}
	if err := check(p); err != nil {
		return err
	}
	pr := p.Params
	fmt.Fprintf(w, "format: %d.%d\n", major, minor)
	fmt.Fprintf(w, "producer: %s\n", p.Producer)
	fmt.Fprintf(w, "logN: %d\n", pr.LogN)
	fmt.Fprintf(w, "levels: %d\n", len(pr.Q)-1)
	fmt.Fprintf(w, "logQP: %.1f\n", log2Sum(pr.Q)+log2Sum(pr.P))
	fmt.Fprintf(w, "logDefaultScale: %g\n", pr.LogDefaultScale)
	fmt.Fprintf(w, "securityBits: %d\n", pr.SecurityBits)
	fmt.Fprintf(w, "insecure: %v\n", pr.Insecure)
	fmt.Fprintf(w, "relinearization: %v\n", p.Keys.GetRelinearization())
	fmt.Fprintf(w, "galoisKeys: %d\n", len(p.Keys.GetGaloisElements()))
	for _, in := range p.Inputs {
		fmt.Fprintf(w, "input: %s %v level %d batch %d\n", in.Name, in.Shape, in.Level, in.Layout.GetBatch())
	}
	for _, o := range p.Outputs {
		fmt.Fprintf(w, "output: %s %v\n", o.Name, o.Shape)
	}
	fmt.Fprintf(w, "constants: %d\n", len(p.Constants))
	fmt.Fprintf(w, "instructions: %d\n", len(p.Program))
	counts := map[string]int{}
	for _, ins := range p.Program {
		counts[ins.Op.String()]++
	}
	ops := make([]string, 0, len(counts))
	for k := range counts {
		ops = append(ops, k)
	}
	sort.Strings(ops)
	for _, k := range ops {
		fmt.Fprintf(w, "op %s: %d\n", k, counts[k])
	}
	c := p.Metadata.GetOpCounts()
	fmt.Fprintf(w, "rotations: %d\n", c.GetRotations())
	fmt.Fprintf(w, "bootstraps: %d\n", c.GetBootstraps())
	for _, l := range p.Metadata.GetLayers() {
		fmt.Fprintf(w, "layer: %s %s levels %d->%d\n", l.Name, l.Kind, l.LevelIn, l.LevelOut)
	}
	return nil
}
