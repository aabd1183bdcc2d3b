package plan

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"os"

	"google.golang.org/protobuf/proto"

	"github.com/fhec/fhec/plan/planpb"
)

// File framing. All integers are little-endian.
//
//	offset  size  field
//	0       8     magic "FHECPLAN"
//	8       2     major version (uint16)
//	10      2     minor version (uint16)
//	12      8     payload length n (uint64)
//	20      n     payload: deterministic proto3 encoding of planpb.Plan
//	20+n    32    SHA-256 of the payload
//
// A reader accepts any minor version of the major versions it knows (new
// fields are skipped by proto3) and refuses a newer major version.
//
// Versions: 1.0 first release; 1.1 adds Metadata.layers (per-layer summary);
// 1.2 adds the LINEAR instruction (hoisted baby-step giant-step diagonals).
// 1.3 adds feature-major packing: the DOT instruction and element_values on
// inputs and outputs. 1.4 adds placed layouts (Layout.positions), which
// also carry stride 1 with block 0 so that a 1.3 reader, which would drop
// the positions and misplace the input, refuses them instead.
const (
	Magic        = "FHECPLAN"
	VersionMajor = 1
	VersionMinor = 4

	headerSize   = 8 + 2 + 2 + 8
	checksumSize = sha256.Size
)

// Errors returned (wrapped) by Unmarshal; test with errors.Is.
var (
	ErrNotPlan      = errors.New("not an fhec plan file")
	ErrTruncated    = errors.New("plan file is truncated")
	ErrChecksum     = errors.New("plan file checksum mismatch (corrupted)")
	ErrVersion      = errors.New("unsupported plan format version")
	ErrTrailingData = errors.New("trailing bytes after plan")
	ErrInvalid      = errors.New("invalid plan")
)

// Marshal validates p and encodes it as a framed plan file.
func Marshal(p *planpb.Plan) ([]byte, error) {
	if err := Validate(p); err != nil {
		return nil, err
	}
	payload, err := proto.MarshalOptions{Deterministic: true}.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("plan: encode: %w", err)
	}
	return frame(payload, VersionMajor, VersionMinor), nil
}

// frame wraps a payload with the header and checksum.
func frame(payload []byte, major, minor uint16) []byte {
	out := make([]byte, 0, headerSize+len(payload)+checksumSize)
	out = append(out, Magic...)
	out = binary.LittleEndian.AppendUint16(out, major)
	out = binary.LittleEndian.AppendUint16(out, minor)
	out = binary.LittleEndian.AppendUint64(out, uint64(len(payload)))
	out = append(out, payload...)
	sum := sha256.Sum256(payload)
	return append(out, sum[:]...)
}

// Unmarshal decodes a framed plan file and validates the plan. It returns an
// error, never panics, on any input.
func Unmarshal(b []byte) (*planpb.Plan, error) {
	if len(b) < len(Magic) {
		if len(b) > 0 && bytes.HasPrefix([]byte(Magic), b) {
			return nil, fmt.Errorf("%w: %d bytes, the header alone is %d", ErrTruncated, len(b), headerSize)
		}
		return nil, fmt.Errorf("%w: %d bytes, too short for the %q magic", ErrNotPlan, len(b), Magic)
	}
	if string(b[:len(Magic)]) != Magic {
		return nil, fmt.Errorf("%w: magic is %q, want %q", ErrNotPlan, b[:len(Magic)], Magic)
	}
	if len(b) < headerSize {
		return nil, fmt.Errorf("%w: %d bytes, the header alone is %d", ErrTruncated, len(b), headerSize)
	}
	major := binary.LittleEndian.Uint16(b[8:])
	minor := binary.LittleEndian.Uint16(b[10:])
	switch {
	case major > VersionMajor:
		return nil, fmt.Errorf("%w: plan format %d.%d is newer than this fhec reads (%d.x; it writes %d.%d); upgrade fhec", ErrVersion, major, minor, VersionMajor, VersionMajor, VersionMinor)
	case major < VersionMajor:
		return nil, fmt.Errorf("%w: plan format %d.%d is older than this fhec reads (%d.x; it writes %d.%d)", ErrVersion, major, minor, VersionMajor, VersionMajor, VersionMinor)
	}
	n := binary.LittleEndian.Uint64(b[12:])
	rest := uint64(len(b) - headerSize)
	if rest < checksumSize || n > rest-checksumSize {
		return nil, fmt.Errorf("%w: header announces a %d-byte payload plus a %d-byte checksum, only %d bytes follow", ErrTruncated, n, checksumSize, rest)
	}
	if extra := rest - checksumSize - n; extra > 0 {
		return nil, fmt.Errorf("%w: %d bytes after the checksum", ErrTrailingData, extra)
	}
	payload := b[headerSize : headerSize+int(n)]
	sum := sha256.Sum256(payload)
	if !bytes.Equal(sum[:], b[headerSize+int(n):]) {
		return nil, fmt.Errorf("%w: SHA-256 of the %d-byte payload does not match the stored one", ErrChecksum, n)
	}
	p := new(planpb.Plan)
	if err := proto.Unmarshal(payload, p); err != nil {
		return nil, fmt.Errorf("%w: payload is not a valid plan message: %v", ErrInvalid, err)
	}
	if err := Validate(p); err != nil {
		return nil, err
	}
	return p, nil
}

// WriteFile marshals p and writes it to path.
func WriteFile(path string, p *planpb.Plan) error {
	b, err := Marshal(p)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("plan: %w", err)
	}
	return nil
}

// ReadFile reads, unmarshals and validates the plan file at path.
func ReadFile(path string) (*planpb.Plan, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	p, err := Unmarshal(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// Fingerprint is the SHA-256 of the deterministic proto encoding of the
// parameters. Keys and ciphertexts carry it so that they are only used with
// the parameters they were made for.
func Fingerprint(p *planpb.Params) [32]byte {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(p)
	if err != nil {
		// Params holds only scalars and packed repeated scalars: encoding
		// cannot fail.
		panic(fmt.Sprintf("plan: encode params: %v", err))
	}
	return sha256.Sum256(b)
}
