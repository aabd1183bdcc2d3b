package runtime

import (
	"bytes"
	"crypto/sha256"
	"encoding"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/ring"
	"github.com/tuneinsight/lattigo/v5/ring/ringqp"
	"github.com/tuneinsight/lattigo/v5/utils/sampling"
)

// Binary files (secret key, evaluation keys, ciphertexts) share one frame.
// All integers are little-endian.
//
//	offset  size  field
//	0       8     magic: "FHECSKEY", "FHECEVK1" or "FHECCTXT"
//	8       2     format version (uint16, currently 1)
//	10      32    plan.Fingerprint of the CKKS parameters
//	42      8     body length n (uint64)
//	50      n     body (below)
//	50+n    32    SHA-256 of bytes [0, 50+n)
//
// Bodies; each "blob" is a uint64 length followed by that many bytes of
// Lattigo's own MarshalBinary encoding:
//
//	secret key:       blob(rlwe.SecretKey)
//	evaluation keys:  uint8 has_relin, [blob(rlwe.RelinearizationKey)],
//	                  uint32 count, count x blob(rlwe.GaloisKey), ascending Galois element,
//	                  then, only for plans that bootstrap, the bootstrapping keys
//	                  (see appendBootstrapKeys)
//	ciphertexts:      uint8 kind (1 inputs, 2 outputs, 3 seeded inputs), uint32 rows,
//	                  uint64 samples, uint32 groups, rows x groups entries, row-major;
//	                  an entry is blob(rlwe.Ciphertext) for kinds 1 and 2, and for
//	                  kind 3 blob(rlwe.Ciphertext of degree 0: the first polynomial
//	                  only) followed by a 32-byte seed: the second (uniform)
//	                  polynomial is what Lattigo's ringqp.UniformSampler draws at the
//	                  ciphertext's level from sampling.NewKeyedPRNG(seed), as the
//	                  encryptor drew it (Encryptor.WithPRNG). Encrypt makes kind 3
//	                  (half the size); a kind-3 file read by an older fhec is refused
//	                  as "kind 3".
//
// The rows of a ciphertext file are the plan's input (output) tensors in
// order, a feature-major tensor (plan format 1.3, element_values) taking one
// row per element, in element order: a plan without feature-major tensors
// has one row per tensor, so its files are those of earlier versions and
// the format version stays 1. Decoders require exactly the plan's rows.
//
// Decoders check the structure of each Lattigo blob against the parameters
// before handing it to Lattigo, so that a corrupt length cannot make Lattigo
// allocate without bound, and turn Lattigo panics into errors.
const (
	MagicSecretKey      = "FHECSKEY"
	MagicEvaluationKeys = "FHECEVK1"
	MagicCiphertexts    = "FHECCTXT"
	FormatVersion       = 1

	frameHeader = 8 + 2 + 32 + 8

	// seedSize is the key length of a seeded ciphertext's PRNG.
	seedSize = 32
	// seededInputs is the file kind of input ciphertexts stored as their
	// first polynomial and a seed.
	seededInputs = 3
)

// Errors returned (wrapped) by the decoders; test with errors.Is.
var (
	ErrWrongFile      = errors.New("not the expected fhec file")
	ErrTruncated      = errors.New("file is truncated")
	ErrCorrupt        = errors.New("file is corrupted (checksum mismatch)")
	ErrVersion        = errors.New("unsupported file format version")
	ErrParamsMismatch = errors.New("made for other CKKS parameters")
	ErrMalformed      = errors.New("malformed file contents")
)

var fileKinds = map[string]string{
	MagicSecretKey:      "secret key",
	MagicEvaluationKeys: "evaluation keys",
	MagicCiphertexts:    "ciphertexts",
	"FHECPLAN":          "plan",
}

func seal(magic string, fp [32]byte, body []byte) []byte {
	out := make([]byte, 0, frameHeader+len(body)+sha256.Size)
	out = append(out, magic...)
	out = binary.LittleEndian.AppendUint16(out, FormatVersion)
	out = append(out, fp[:]...)
	out = binary.LittleEndian.AppendUint64(out, uint64(len(body)))
	out = append(out, body...)
	sum := sha256.Sum256(out)
	return append(out, sum[:]...)
}

// open checks the frame and returns the body.
func (c *Context) open(magic string, b []byte) ([]byte, error) {
	what := fileKinds[magic]
	if len(b) < 8 {
		if len(b) > 0 && bytes.HasPrefix([]byte(magic), b) {
			return nil, fmt.Errorf("runtime: %s: %w (%d bytes)", what, ErrTruncated, len(b))
		}
		return nil, fmt.Errorf("runtime: %w: want %s, got %d bytes", ErrWrongFile, what, len(b))
	}
	if got := string(b[:8]); got != magic {
		if k, ok := fileKinds[got]; ok {
			return nil, fmt.Errorf("runtime: %w: this is an fhec %s file, want %s", ErrWrongFile, k, what)
		}
		return nil, fmt.Errorf("runtime: %w: magic %q, want %q (%s)", ErrWrongFile, b[:8], magic, what)
	}
	if len(b) < frameHeader {
		return nil, fmt.Errorf("runtime: %s: %w: %d bytes, the header alone is %d", what, ErrTruncated, len(b), frameHeader)
	}
	if v := binary.LittleEndian.Uint16(b[8:]); v != FormatVersion {
		if v > FormatVersion {
			return nil, fmt.Errorf("runtime: %s: %w: format version %d is newer than this fhec reads (%d); upgrade fhec", what, ErrVersion, v, FormatVersion)
		}
		return nil, fmt.Errorf("runtime: %s: %w: format version %d (this fhec reads %d)", what, ErrVersion, v, FormatVersion)
	}
	n := binary.LittleEndian.Uint64(b[42:])
	rest := uint64(len(b) - frameHeader)
	if rest < sha256.Size || n > rest-sha256.Size {
		return nil, fmt.Errorf("runtime: %s: %w: header announces %d body bytes plus a %d-byte checksum, %d bytes follow", what, ErrTruncated, n, sha256.Size, rest)
	}
	if extra := rest - sha256.Size - n; extra > 0 {
		return nil, fmt.Errorf("runtime: %s: %w: %d trailing bytes after the checksum", what, ErrMalformed, extra)
	}
	end := frameHeader + int(n)
	sum := sha256.Sum256(b[:end])
	if !bytes.Equal(sum[:], b[end:]) {
		return nil, fmt.Errorf("runtime: %s: %w", what, ErrCorrupt)
	}
	if !bytes.Equal(b[10:42], c.fingerprint[:]) {
		return nil, fmt.Errorf("runtime: %s: %w: file fingerprint %x…, the plan's parameters are %x…; use the keys/ciphertexts made for this plan", what, ErrParamsMismatch, b[10:16], c.fingerprint[:6])
	}
	return b[frameHeader:end], nil
}

// MarshalBinary encodes the secret key (keep the result secret).
func (sk *SecretKey) MarshalBinary() ([]byte, error) {
	if sk == nil || sk.sk == nil {
		return nil, fmt.Errorf("runtime: no secret key")
	}
	blob, err := sk.sk.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("runtime: encode secret key: %w", err)
	}
	return seal(MagicSecretKey, sk.fingerprint, appendBlob(nil, blob)), nil
}

// MarshalBinary encodes the evaluation keys.
func (e *EvaluationKeys) MarshalBinary() ([]byte, error) {
	if e == nil {
		return nil, fmt.Errorf("runtime: no evaluation keys")
	}
	var body []byte
	if e.rlk != nil {
		blob, err := e.rlk.MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("runtime: encode relinearization key: %w", err)
		}
		body = appendBlob(append(body, 1), blob)
	} else {
		body = append(body, 0)
	}
	body = binary.LittleEndian.AppendUint32(body, uint32(len(e.galois)))
	for _, gk := range e.galois {
		blob, err := gk.MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("runtime: encode Galois key %d: %w", gk.GaloisElement, err)
		}
		body = appendBlob(body, blob)
	}
	if e.btp != nil {
		var err error
		if body, err = appendBootstrapKeys(body, e.btp); err != nil {
			return nil, fmt.Errorf("runtime: encode bootstrapping keys: %w", err)
		}
	}
	return seal(MagicEvaluationKeys, e.fingerprint, body), nil
}

// MarshalBinary encodes the ciphertexts.
func (cts *Ciphertexts) MarshalBinary() ([]byte, error) {
	if cts == nil {
		return nil, fmt.Errorf("runtime: no ciphertexts")
	}
	groups := 0
	if len(cts.values) > 0 {
		groups = len(cts.values[0])
	}
	seeded := cts.kind == Inputs && cts.seeds != nil
	kind := byte(cts.kind)
	if seeded {
		kind = seededInputs
	}
	body := []byte{kind}
	body = binary.LittleEndian.AppendUint32(body, uint32(len(cts.values)))
	body = binary.LittleEndian.AppendUint64(body, uint64(cts.samples))
	body = binary.LittleEndian.AppendUint32(body, uint32(groups))
	for i, row := range cts.values {
		if len(row) != groups {
			return nil, fmt.Errorf("runtime: row %d has %d ciphertexts, row 0 has %d", i, len(row), groups)
		}
		for g, ct := range row {
			var seed []byte
			if seeded {
				if seed = cts.seeds[i][g]; len(seed) != seedSize || ct.Degree() != 1 {
					return nil, fmt.Errorf("runtime: row %d group %d: no seed for a seeded ciphertext", i, g)
				}
				ct = &rlwe.Ciphertext{Element: rlwe.Element[ring.Poly]{Value: ct.Value[:1], MetaData: ct.MetaData}}
			}
			blob, err := ct.MarshalBinary()
			if err != nil {
				return nil, fmt.Errorf("runtime: encode ciphertext: %w", err)
			}
			body = appendBlob(body, blob)
			body = append(body, seed...)
		}
	}
	return seal(MagicCiphertexts, cts.fingerprint, body), nil
}

func appendBlob(b, blob []byte) []byte {
	b = binary.LittleEndian.AppendUint64(b, uint64(len(blob)))
	return append(b, blob...)
}

// UnmarshalSecretKey decodes a secret key made for this plan's parameters.
func (c *Context) UnmarshalSecretKey(b []byte) (*SecretKey, error) {
	body, err := c.open(MagicSecretKey, b)
	if err != nil {
		return nil, err
	}
	r := &reader{b: body}
	blob := r.blob()
	if err := r.end("secret key"); err != nil {
		return nil, err
	}
	s := c.shape()
	w := &reader{b: blob}
	s.ringQP(w, s.qRows, s.pRows)
	if err := w.end("secret key"); err != nil {
		return nil, err
	}
	sk := new(rlwe.SecretKey)
	if err := lattigoUnmarshal(sk, blob); err != nil {
		return nil, fmt.Errorf("runtime: secret key: %w", err)
	}
	return &SecretKey{fingerprint: c.fingerprint, sk: sk}, nil
}

// UnmarshalEvaluationKeys decodes evaluation keys made for this plan's
// parameters. It does not check that they cover the plan (Evaluate does).
func (c *Context) UnmarshalEvaluationKeys(b []byte) (*EvaluationKeys, error) {
	body, err := c.open(MagicEvaluationKeys, b)
	if err != nil {
		return nil, err
	}
	s := c.shape()
	r := &reader{b: body}
	evk := &EvaluationKeys{fingerprint: c.fingerprint}
	switch has := r.u8(); {
	case r.err != nil:
	case has == 1:
		blob := r.blob()
		if r.err != nil {
			break
		}
		w := &reader{b: blob}
		s.gadget(w)
		if err := w.end("relinearization key"); err != nil {
			return nil, err
		}
		evk.rlk = new(rlwe.RelinearizationKey)
		if err := lattigoUnmarshal(evk.rlk, blob); err != nil {
			return nil, fmt.Errorf("runtime: relinearization key: %w", err)
		}
	case has != 0:
		return nil, fmt.Errorf("runtime: evaluation keys: %w: relinearization flag %d", ErrMalformed, has)
	}
	if evk.galois, err = readGaloisKeys(r, s, uint64(2*c.params.N()), "Galois key"); err != nil {
		return nil, err
	}
	if r.err == nil && r.off < len(r.b) && c.btp != nil { // optional bootstrapping section
		if evk.btp, err = c.readBootstrapKeys(r); err != nil {
			return nil, err
		}
	}
	if err := r.end("evaluation keys"); err != nil {
		return nil, err
	}
	return evk, nil
}

// readGaloisKeys reads a count, then that many Galois keys of shape s in
// ascending order of element (what names them in errors): each blob is
// checked against the shape before Lattigo decodes it.
func readGaloisKeys(r *reader, s *shape, twoN uint64, what string) ([]*rlwe.GaloisKey, error) {
	var keys []*rlwe.GaloisKey
	n := r.count(8)
	for i := 0; i < n && r.err == nil; i++ {
		blob := r.blob()
		if r.err != nil {
			break
		}
		w := &reader{b: blob}
		gal, root := w.u64(), w.u64()
		s.gadget(w)
		if err := w.end(fmt.Sprintf("%s %d", what, i)); err != nil {
			return nil, err
		}
		if gal%2 == 0 || gal >= twoN || root != twoN {
			return nil, fmt.Errorf("runtime: evaluation keys: %w: %s %d has element %d and root %d (ring 2N = %d)", ErrMalformed, what, i, gal, root, twoN)
		}
		if k := len(keys); k > 0 && gal <= keys[k-1].GaloisElement {
			return nil, fmt.Errorf("runtime: evaluation keys: %w: %ss not in ascending order at %d", ErrMalformed, what, i)
		}
		gk := new(rlwe.GaloisKey)
		if err := lattigoUnmarshal(gk, blob); err != nil {
			return nil, fmt.Errorf("runtime: %s %d: %w", what, gal, err)
		}
		keys = append(keys, gk)
	}
	return keys, nil
}

// UnmarshalCiphertexts decodes ciphertexts made for this plan's parameters
// and checks their number and shape against the plan.
func (c *Context) UnmarshalCiphertexts(b []byte) (*Ciphertexts, error) {
	body, err := c.open(MagicCiphertexts, b)
	if err != nil {
		return nil, err
	}
	r := &reader{b: body}
	kind := Kind(r.u8())
	seeded := kind == seededInputs
	if seeded {
		kind = Inputs
	}
	tensors := r.u32()
	samples := r.u64()
	groups := r.u32()
	if r.err != nil {
		return nil, fmt.Errorf("runtime: ciphertexts: %w", r.err)
	}
	switch kind {
	case Inputs, Outputs:
	default:
		return nil, fmt.Errorf("runtime: ciphertexts: %w: kind %d", ErrMalformed, kind)
	}
	if want := len(c.rows(kind)); int64(tensors) != int64(want) {
		return nil, fmt.Errorf("runtime: ciphertexts: %d ciphertexts per group of plan %v, the plan has %d", tensors, kind, want)
	}
	batch := uint64(c.batch)
	if samples == 0 || uint64(groups) != samples/batch+min(1, samples%batch) {
		return nil, fmt.Errorf("runtime: ciphertexts: %w: %d samples in %d groups, batch is %d", ErrMalformed, samples, groups, batch)
	}
	if uint64(tensors)*uint64(groups) > uint64(len(body))/8 {
		return nil, fmt.Errorf("runtime: ciphertexts: %w: %d x %d ciphertexts cannot fit in %d bytes", ErrMalformed, tensors, groups, len(body))
	}
	s := c.shape()
	parts := 2
	cts := &Ciphertexts{fingerprint: c.fingerprint, kind: kind, samples: int(samples), values: make([][]*rlwe.Ciphertext, tensors)}
	if seeded {
		parts = 1
		cts.seeds = make([][][]byte, tensors)
	}
	for i := range cts.values {
		cts.values[i] = make([]*rlwe.Ciphertext, groups)
		if seeded {
			cts.seeds[i] = make([][]byte, groups)
		}
		for g := range cts.values[i] {
			where := fmt.Sprintf("%v %s group %d", kind, c.rowName(kind, i), g)
			blob := r.blob()
			if r.err != nil {
				return nil, fmt.Errorf("runtime: ciphertexts: %s: %w", where, r.err)
			}
			w := &reader{b: blob}
			s.ciphertext(w, parts)
			if err := w.end(where); err != nil {
				return nil, err
			}
			ct := new(rlwe.Ciphertext)
			if err := lattigoUnmarshal(ct, blob); err != nil {
				return nil, fmt.Errorf("runtime: %s: %w", where, err)
			}
			// Lattigo's metadata is JSON read leniently but written in a
			// fixed-size form: a value it reads but writes longer (spaces
			// for digits, a three-digit exponent) would make the file
			// unwritable, so only the canonical bytes are accepted.
			if canon, err := ct.MetaData.MarshalBinary(); err != nil || !bytes.Equal(canon, blob[1:1+s.metaSize]) {
				return nil, fmt.Errorf("runtime: %s: %w: metadata is not in Lattigo's canonical form", where, ErrMalformed)
			}
			if seeded {
				seed := bytes.Clone(r.take(seedSize))
				if r.err != nil {
					return nil, fmt.Errorf("runtime: ciphertexts: %s: %w", where, r.err)
				}
				if err := c.unseed(ct, seed); err != nil {
					return nil, fmt.Errorf("runtime: %s: %w: %v", where, ErrMalformed, err)
				}
				cts.seeds[i][g] = seed
			}
			if err := c.checkCiphertext(ct); err != nil {
				return nil, fmt.Errorf("runtime: %s: %w: %v", where, ErrMalformed, err)
			}
			cts.values[i][g] = ct
		}
	}
	if err := r.end("ciphertexts"); err != nil {
		return nil, err
	}
	if err := c.checkCiphertexts(cts, kind); err != nil {
		return nil, err
	}
	return cts, nil
}

func lattigoUnmarshal(v encoding.BinaryUnmarshaler, b []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: Lattigo could not decode it: %v", ErrMalformed, r)
		}
	}()
	if err := v.UnmarshalBinary(b); err != nil {
		return fmt.Errorf("%w: Lattigo could not decode it: %v", ErrMalformed, err)
	}
	return nil
}

// WriteFile writes a SecretKey, EvaluationKeys or Ciphertexts to path.
func WriteFile(path string, v encoding.BinaryMarshaler) error {
	b, err := v.MarshalBinary()
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("runtime: %w", err)
	}
	return nil
}

// ReadSecretKey reads a secret key file made for this plan.
func (c *Context) ReadSecretKey(path string) (*SecretKey, error) {
	return readFile(path, c.UnmarshalSecretKey)
}

// ReadEvaluationKeys reads an evaluation key file made for this plan.
func (c *Context) ReadEvaluationKeys(path string) (*EvaluationKeys, error) {
	return readFile(path, c.UnmarshalEvaluationKeys)
}

// ReadCiphertexts reads a ciphertext file made for this plan.
func (c *Context) ReadCiphertexts(path string) (*Ciphertexts, error) {
	return readFile(path, c.UnmarshalCiphertexts)
}

func readFile[T any](path string, dec func([]byte) (T, error)) (T, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		var zero T
		return zero, fmt.Errorf("runtime: %w", err)
	}
	v, err := dec(b)
	if err != nil {
		return v, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

// reader reads little-endian fields; the first error sticks.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) take(n uint64) []byte {
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)-r.off) {
		r.err = fmt.Errorf("%w: a %d-byte field at offset %d runs past the end (%d bytes)", ErrMalformed, n, r.off, len(r.b))
		return nil
	}
	out := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return out
}

func (r *reader) u8() uint8 {
	if b := r.take(1); b != nil {
		return b[0]
	}
	return 0
}

func (r *reader) u32() uint32 {
	if b := r.take(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (r *reader) u64() uint64 {
	if b := r.take(8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

func (r *reader) blob() []byte { return r.take(r.u64()) }

// count reads a uint32 count of items that take at least minSize bytes each.
func (r *reader) count(minSize int) int {
	n := uint64(r.u32())
	if r.err == nil && n*uint64(minSize) > uint64(len(r.b)-r.off) {
		r.err = fmt.Errorf("%w: %d items cannot fit in the %d bytes left", ErrMalformed, n, len(r.b)-r.off)
	}
	return int(n)
}

// expect reads a uint64 and checks it.
func (r *reader) expect(what string, want int) {
	if got := r.u64(); r.err == nil && got != uint64(want) {
		r.err = fmt.Errorf("%w: %s is %d, want %d", ErrMalformed, what, got, want)
	}
}

func (r *reader) end(what string) error {
	if r.err == nil && r.off != len(r.b) {
		r.err = fmt.Errorf("%w: %d unexpected bytes at the end", ErrMalformed, len(r.b)-r.off)
	}
	if r.err != nil {
		return fmt.Errorf("runtime: %s: %w", what, r.err)
	}
	return nil
}

// shape is what the parameters say Lattigo's encodings must look like.
type shape struct {
	n, qRows, pRows int
	metaSize        int
	gadgetRows      int
	gadgetCols      []int
}

func (c *Context) shape() *shape { return newShape(c.params.Parameters.Parameters) }

// newShape is the shape of keys and ciphertexts at parameters p.
func newShape(p rlwe.Parameters) *shape {
	levelQ, levelP := p.MaxLevelQ(), p.MaxLevelP()
	return &shape{
		n:          p.N(),
		qRows:      p.QCount(),
		pRows:      p.PCount(),
		metaSize:   (&rlwe.MetaData{}).BinarySize(),
		gadgetRows: p.BaseRNSDecompositionVectorSize(levelQ, levelP),
		gadgetCols: p.BaseTwoDecompositionVectorSize(levelQ, levelP, 0),
	}
}

// ringPoly walks a ring.Poly (structs.Matrix[uint64]) with the given rows.
func (s *shape) ringPoly(r *reader, rows int) {
	r.expect("polynomial modulus count", rows)
	for i := 0; i < rows && r.err == nil; i++ {
		r.expect("polynomial length", s.n)
		r.take(uint64(s.n) * 8)
	}
}

// ringQP walks a ringqp.Poly.
func (s *shape) ringQP(r *reader, qRows, pRows int) {
	s.ringPoly(r, qRows)
	s.ringPoly(r, pRows)
}

// gadget walks a GadgetCiphertext made by the key generator with default
// evaluation-key parameters (all levels, no base-2 decomposition).
func (s *shape) gadget(r *reader) {
	r.expect("base-2 decomposition", 0)
	r.expect("RNS decomposition size", s.gadgetRows)
	for i := 0; i < s.gadgetRows && r.err == nil; i++ {
		r.expect("base-2 decomposition size", s.gadgetCols[i])
		for j := 0; j < s.gadgetCols[i] && r.err == nil; j++ {
			r.expect("gadget ciphertext degree+1", 2)
			for k := 0; k < 2 && r.err == nil; k++ {
				s.ringQP(r, s.qRows, s.pRows)
			}
		}
	}
}

// ciphertext walks an rlwe.Ciphertext of degree 1 at any level.
func (s *shape) ciphertext(r *reader, parts int) {
	if has := r.u8(); r.err == nil && has != 1 {
		r.err = fmt.Errorf("%w: ciphertext without metadata", ErrMalformed)
	}
	r.take(uint64(s.metaSize))
	r.expect("ciphertext degree+1", parts)
	// The first polynomial's modulus count fixes the level.
	save := r.off
	rows := r.u64()
	if r.err == nil && (rows < 1 || rows > uint64(s.qRows)) {
		r.err = fmt.Errorf("%w: ciphertext has %d moduli, the parameters have %d", ErrMalformed, rows, s.qRows)
	}
	r.off = save
	for k := 0; k < parts && r.err == nil; k++ {
		s.ringPoly(r, int(rows))
	}
}

// unseed completes a seeded ciphertext (its first polynomial decoded into
// ct): the second is the uniform polynomial Lattigo's encryptor drew from
// the PRNG keyed by seed, at the ciphertext's level, in the NTT domain.
func (c *Context) unseed(ct *rlwe.Ciphertext, seed []byte) error {
	if ct.Degree() != 0 || !ct.IsNTT || ct.IsMontgomery || ct.MetaData == nil {
		return fmt.Errorf("a seeded ciphertext must be one NTT polynomial")
	}
	level := ct.Level()
	if level < 0 || level > c.params.MaxLevel() {
		return fmt.Errorf("level %d outside the parameters' [0, %d]", level, c.params.MaxLevel())
	}
	prng, err := sampling.NewKeyedPRNG(seed)
	if err != nil {
		return err
	}
	c1 := c.params.RingQ().AtLevel(level).NewPoly()
	ringqp.NewUniformSampler(prng, *c.params.RingQP()).AtLevel(level, -1).Read(ringqp.Poly{Q: c1})
	ct.Value = append(ct.Value, c1)
	return nil
}

// sortedGalois sorts keys by Galois element.
func sortedGalois(gks []*rlwe.GaloisKey) []*rlwe.GaloisKey {
	slices.SortFunc(gks, func(a, b *rlwe.GaloisKey) int {
		switch {
		case a.GaloisElement < b.GaloisElement:
			return -1
		case a.GaloisElement > b.GaloisElement:
			return 1
		}
		return 0
	})
	return gks
}
