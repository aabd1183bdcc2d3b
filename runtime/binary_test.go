package runtime

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"

	"github.com/fhec/fhec/plan/planpb"
)

// files holds one encoding of each binary file for a context.
type files struct {
	c                 *Context
	sk, evk, in, outs []byte
}

func makeFiles(t testing.TB, b *builder, n int) *files {
	t.Helper()
	c := b.context()
	sk, evk, err := c.KeyGen()
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(21, 22))
	in := make([][][]float64, len(c.Plan().Inputs))
	for i, pin := range c.Plan().Inputs {
		in[i] = samples(rng, n, sampleLen(pin.Layout, pin.ElementValues))
	}
	cts, err := c.Encrypt(sk, in)
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := c.Evaluate(evk, cts, EvalOptions{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	f := &files{c: c}
	for _, x := range []struct {
		dst *[]byte
		v   interface{ MarshalBinary() ([]byte, error) }
	}{{&f.sk, sk}, {&f.evk, evk}, {&f.in, cts}, {&f.outs, out}} {
		if *x.dst, err = x.v.MarshalBinary(); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// tinyPlan has small keys (N = 2^10) for the fuzzers: a rotation, a
// square and a rescale.
func tinyPlan(t testing.TB) *builder {
	b := newBuilder(t, testParams(t, 10, []int{40, 40}))
	l := &planpb.Layout{Len: 4, Period: 4, Batch: 2}
	x := b.input("x", l, 1)
	y := b.op(planpb.Op_ADD, x, b.rotate(x, 2))
	y = b.op(planpb.Op_RESCALE, b.op(planpb.Op_RELINEARIZE, b.op(planpb.Op_MUL, y, y)))
	b.output("y", y, l)
	return b
}

func TestBinaryRoundTrip(t *testing.T) {
	b := polyPlan(t)
	c := b.context()
	sk, evk, err := c.KeyGen()
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(23, 24))
	x, z := samples(rng, 10, 6), samples(rng, 10, 6)
	cts, err := c.Encrypt(sk, [][][]float64{x, z})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := func(s string) string { return filepath.Join(dir, s) }
	for name, v := range map[string]interface{ MarshalBinary() ([]byte, error) }{"sk": sk, "evk": evk, "in": cts} {
		if err := WriteFile(path(name), v); err != nil {
			t.Fatal(err)
		}
	}
	// Server side: evaluation keys and ciphertexts only.
	evk2, err := c.ReadEvaluationKeys(path("evk"))
	if err != nil {
		t.Fatal(err)
	}
	if !evk2.HasRelinearizationKey() || !reflect.DeepEqual(evk2.GaloisElements(), evk.GaloisElements()) {
		t.Fatal("evaluation keys changed")
	}
	in2, err := c.ReadCiphertexts(path("in"))
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := c.Evaluate(evk2, in2, EvalOptions{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	outRef, _, err := c.Evaluate(evk, cts, EvalOptions{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	ob, err := out.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	ref, err := outRef.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ob, ref) {
		t.Fatal("decoded keys/ciphertexts evaluate differently")
	}
	// Client side.
	sk2, err := c.ReadSecretKey(path("sk"))
	if err != nil {
		t.Fatal(err)
	}
	out2, err := c.UnmarshalCiphertexts(ob)
	if err != nil {
		t.Fatal(err)
	}
	if out2.Kind() != Outputs || out2.Samples() != 10 {
		t.Fatalf("kind %v samples %d", out2.Kind(), out2.Samples())
	}
	res, err := c.Decrypt(sk2, out2)
	if err != nil {
		t.Fatal(err)
	}
	checkClose(t, "passthrough after files", res[1], z, tol)
	if _, err := c.ReadSecretKey(path("missing")); err == nil {
		t.Fatal("read a missing file")
	}
}

// The server-side types must not be able to hold a secret key.
func TestEvaluationKeysHoldNoSecret(t *testing.T) {
	secret := reflect.TypeOf(rlwe.SecretKey{})
	var walk func(reflect.Type, map[reflect.Type]bool) bool
	walk = func(ty reflect.Type, seen map[reflect.Type]bool) bool {
		if ty == secret {
			return true
		}
		if seen[ty] {
			return false
		}
		seen[ty] = true
		switch ty.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Array:
			return walk(ty.Elem(), seen)
		case reflect.Map:
			return walk(ty.Key(), seen) || walk(ty.Elem(), seen)
		case reflect.Struct:
			for i := range ty.NumField() {
				if walk(ty.Field(i).Type, seen) {
					return true
				}
			}
		}
		return false
	}
	for _, v := range []any{EvaluationKeys{}, Ciphertexts{}} {
		if walk(reflect.TypeOf(v), map[reflect.Type]bool{}) {
			t.Errorf("%T can hold an rlwe.SecretKey", v)
		}
	}
}

// reseal replaces the body of a framed file and fixes the checksum.
func reseal(b []byte, body []byte) []byte {
	var fp [32]byte
	copy(fp[:], b[10:42])
	return seal(string(b[:8]), fp, body)
}

func body(b []byte) []byte { return b[frameHeader : len(b)-32] }

func TestBinaryCorruption(t *testing.T) {
	f := makeFiles(t, tinyPlan(t), 5)
	c := f.c
	other := makeFiles(t, func() *builder {
		b := newBuilder(t, testParams(t, 10, []int{40, 40, 40}))
		l := &planpb.Layout{Len: 4, Period: 4, Batch: 2}
		x := b.input("x", l, 1)
		b.output("y", b.op(planpb.Op_RESCALE, b.op(planpb.Op_RELINEARIZE, b.op(planpb.Op_MUL, x, x))), l)
		return b
	}(), 3)

	decoders := map[string]func([]byte) error{
		"sk":  func(b []byte) error { _, err := c.UnmarshalSecretKey(b); return err },
		"evk": func(b []byte) error { _, err := c.UnmarshalEvaluationKeys(b); return err },
		"cts": func(b []byte) error { _, err := c.UnmarshalCiphertexts(b); return err },
	}
	good := map[string][]byte{"sk": f.sk, "evk": f.evk, "cts": f.in}
	foreign := map[string][]byte{"sk": other.sk, "evk": other.evk, "cts": other.in}
	wrongKind := map[string][]byte{"sk": f.evk, "evk": f.in, "cts": f.sk}

	type tc struct {
		name string
		b    []byte
		err  error
		msg  string
	}
	for kind, dec := range decoders {
		g := good[kind]
		mod := func(fn func(b []byte)) []byte { b := bytes.Clone(g); fn(b); return b }
		cases := []tc{
			{"empty", nil, ErrWrongFile, "got 0 bytes"},
			{"garbage", []byte("hello, this is not a key file at all......................"), ErrWrongFile, "magic"},
			{"plan file", append([]byte("FHECPLAN"), make([]byte, 100)...), ErrWrongFile, "plan file"},
			{"other fhec file", wrongKind[kind], ErrWrongFile, "this is an fhec"},
			{"magic only", g[:8], ErrTruncated, "header"},
			{"half", g[:len(g)/2], ErrTruncated, "bytes follow"},
			{"last byte missing", g[:len(g)-1], ErrTruncated, "bytes follow"},
			{"trailing", append(bytes.Clone(g), 1, 2, 3), ErrMalformed, "3 trailing bytes"},
			{"flipped body bit", mod(func(b []byte) { b[frameHeader+len(b)/3] ^= 4 }), ErrCorrupt, "checksum"},
			{"flipped fingerprint", mod(func(b []byte) { b[12] ^= 1 }), ErrCorrupt, "checksum"},
			{"newer version", mod(func(b []byte) { binary.LittleEndian.PutUint16(b[8:], 2) }), ErrVersion, "upgrade fhec"},
			{"other params", foreign[kind], ErrParamsMismatch, "other CKKS parameters"},
			{"empty body", reseal(g, nil), ErrMalformed, "runs past the end"},
			{"body cut", reseal(g, body(g)[:len(body(g))-9]), ErrMalformed, ""},
			{"body extended", reseal(g, append(bytes.Clone(body(g)), 0)), ErrMalformed, "unexpected bytes"},
		}
		// Interior lengths that would make Lattigo allocate without bound.
		bd := body(g)
		switch kind {
		case "sk":
			cases = append(cases,
				tc{"huge blob", reseal(g, setU64(bd, 0, 1<<62)), ErrMalformed, "runs past the end"},
				tc{"huge modulus count", reseal(g, setU64(bd, 8, 1<<40)), ErrMalformed, "polynomial modulus count"},
				tc{"huge poly length", reseal(g, setU64(bd, 16, 1<<40)), ErrMalformed, "polynomial length"},
			)
		case "evk":
			cases = append(cases,
				tc{"bad relin flag", reseal(g, setU8(bd, 0, 7)), ErrMalformed, "relinearization flag 7"},
				tc{"huge gadget rows", reseal(g, setU64(bd, 1+8+8, 1<<50)), ErrMalformed, "RNS decomposition size"},
				tc{"base2 decomposition", reseal(g, setU64(bd, 1+8, 3)), ErrMalformed, "base-2 decomposition is 3"},
				tc{"huge key count", reseal(g, setU32(bd, 1+8+int(getU64(bd, 1)), 1<<31)), ErrMalformed, "cannot fit"},
			)
		case "cts":
			cases = append(cases,
				tc{"bad kind", reseal(g, setU8(bd, 0, 9)), ErrMalformed, "kind 9"},
				tc{"tensor count", reseal(g, setU32(bd, 1, 2)), nil, "2 ciphertexts per group of plan inputs, the plan has 1"},
				tc{"sample count", reseal(g, setU64(bd, 5, 100)), ErrMalformed, "100 samples in 3 groups"},
				tc{"huge groups", reseal(g, setU32(setU64(bd, 5, 1<<33), 13, 1<<32-1)), ErrMalformed, ""},
				tc{"degree 2", reseal(g, setU64(bd, 17+8+1+metaSize(c), 3)), ErrMalformed, "degree+1 is 3"},
				tc{"huge moduli", reseal(g, setU64(bd, 17+8+1+metaSize(c)+8, 1<<45)), ErrMalformed, "moduli"},
				tc{"no metadata", reseal(g, setU8(bd, 17+8, 0)), ErrMalformed, "without metadata"},
				tc{"garbage metadata", reseal(g, fill(bd, 17+8+1, metaSize(c), '{')), ErrMalformed, "Lattigo could not decode"},
				tc{"non-canonical metadata", reseal(g, nonCanonicalScale(t, bd)), ErrMalformed, "canonical"},
				tc{"spaced metadata", reseal(g, replaceOnce(t, bd, `{"Value":"0x1.`, `{"Value": "0x1`)), ErrMalformed, "canonical"},
			)
		}
		for _, x := range cases {
			t.Run(kind+"/"+x.name, func(t *testing.T) {
				err := dec(x.b)
				if err == nil {
					t.Fatal("accepted")
				}
				if (x.err != nil && !errors.Is(err, x.err)) || !strings.Contains(err.Error(), x.msg) {
					t.Fatalf("error %q, want %v containing %q", err, x.err, x.msg)
				}
				t.Log(err)
			})
		}
	}
	// Output files have no expected scale: there only the canonical check
	// stands between such metadata and a file that cannot be written again
	// (found by FuzzUnmarshalCiphertextsFeatureMajor).
	if _, err := c.UnmarshalCiphertexts(reseal(f.outs, nonCanonicalScale(t, body(f.outs)))); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "canonical") {
		t.Fatalf("outputs with non-canonical metadata: %v", err)
	}
	// Outputs decode as outputs and are refused by Evaluate, inputs by Decrypt.
	if _, err := c.UnmarshalCiphertexts(f.outs); err != nil {
		t.Fatal(err)
	}
}

// replaceOnce replaces old, which must occur in b, by new of the same length.
func replaceOnce(t *testing.T, b []byte, old, new string) []byte {
	t.Helper()
	if len(old) != len(new) || !bytes.Contains(b, []byte(old)) {
		t.Fatalf("cannot replace %q by %q", old, new)
	}
	return bytes.Replace(b, []byte(old), []byte(new), 1)
}

// nonCanonicalScale rewrites the first ciphertext's scale as 2^100 in a form
// Lattigo reads but writes one byte longer (one digit fewer, a three-digit
// exponent).
func nonCanonicalScale(t *testing.T, b []byte) []byte {
	t.Helper()
	m := regexp.MustCompile(`"Value":"0x1\.[0-9a-f]*p\+[0-9][0-9]"`).Find(b)
	if m == nil {
		t.Fatal("no scale value with a two-digit exponent")
	}
	digits := len(m) - len(`"Value":"0x1.p+40"`)
	return replaceOnce(t, b, string(m), `"Value":"0x1.`+strings.Repeat("0", digits-1)+`p+100"`)
}

func metaSize(*Context) int { return (&rlwe.MetaData{}).BinarySize() }

func setU8(b []byte, off int, v uint8) []byte {
	b = bytes.Clone(b)
	b[off] = v
	return b
}

func setU32(b []byte, off int, v uint32) []byte {
	b = bytes.Clone(b)
	binary.LittleEndian.PutUint32(b[off:], v)
	return b
}

func setU64(b []byte, off int, v uint64) []byte {
	b = bytes.Clone(b)
	binary.LittleEndian.PutUint64(b[off:], v)
	return b
}

func getU64(b []byte, off int) uint64 { return binary.LittleEndian.Uint64(b[off:]) }

func fill(b []byte, off, n int, v byte) []byte {
	b = bytes.Clone(b)
	for i := range n {
		b[off+i] = v
	}
	return b
}

// fuzzDecoder fuzzes a decoder with whole files and with bodies in a valid
// frame (so that the checksum does not hide the body decoder).
func fuzzDecoder[T interface{ MarshalBinary() ([]byte, error) }](f *testing.F, magic string, seeds func(*files) [][]byte, dec func(*Context, []byte) (T, error)) {
	fuzzDecoderOf(f, tinyPlan(f), magic, seeds, dec)
}

// fuzzDecoderOf is fuzzDecoder for the files of plan b.
func fuzzDecoderOf[T interface{ MarshalBinary() ([]byte, error) }](f *testing.F, b *builder, magic string, seeds func(*files) [][]byte, dec func(*Context, []byte) (T, error)) {
	fs := makeFiles(f, b, 3)
	c := fs.c
	for _, s := range seeds(fs) {
		f.Add(s)
		f.Add(body(s))
	}
	f.Add([]byte(magic))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, in := range [][]byte{b, seal(magic, c.fingerprint, b)} {
			v, err := dec(c, in)
			if err != nil {
				continue
			}
			out, err := v.MarshalBinary()
			if err != nil {
				t.Fatalf("decoded value does not re-encode: %v", err)
			}
			if _, err := dec(c, out); err != nil {
				t.Fatalf("re-encoded value does not decode: %v", err)
			}
		}
	})
}

// FuzzUnmarshalCiphertextsFeatureMajor: the ciphertext files of a
// feature-major plan (one ciphertext per input element).
func FuzzUnmarshalCiphertextsFeatureMajor(f *testing.F) {
	fuzzDecoderOf(f, fmDensePlan(f), MagicCiphertexts, func(fs *files) [][]byte { return [][]byte{fs.in, fs.outs} }, (*Context).UnmarshalCiphertexts)
}

func FuzzUnmarshalSecretKey(f *testing.F) {
	fuzzDecoder(f, MagicSecretKey, func(fs *files) [][]byte { return [][]byte{fs.sk} }, (*Context).UnmarshalSecretKey)
}

func FuzzUnmarshalEvaluationKeys(f *testing.F) {
	fuzzDecoder(f, MagicEvaluationKeys, func(fs *files) [][]byte { return [][]byte{fs.evk} }, (*Context).UnmarshalEvaluationKeys)
}

func FuzzUnmarshalCiphertexts(f *testing.F) {
	fuzzDecoder(f, MagicCiphertexts, func(fs *files) [][]byte { return [][]byte{fs.in, fs.outs} }, (*Context).UnmarshalCiphertexts)
}

// TestSeededInputs: Encrypt's input files carry each ciphertext's uniform
// half as a 32-byte seed: about half the size of the full form, decoding to
// the very ciphertexts encrypted (so they decrypt and evaluate the same),
// re-encoding to the same bytes; the full form (kind 1) still decodes.
func TestSeededInputs(t *testing.T) {
	c := tinyPlan(t).context()
	sk, _, err := c.KeyGen()
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(8, 9))
	pin := c.Plan().Inputs[0]
	cts, err := c.Encrypt(sk, [][][]float64{samples(rng, 5, sampleLen(pin.Layout, pin.ElementValues))})
	if err != nil {
		t.Fatal(err)
	}
	seeded, err := cts.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	full := *cts
	full.seeds = nil
	fullBytes, err := full.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if body(seeded)[0] != seededInputs || body(fullBytes)[0] != byte(Inputs) {
		t.Fatalf("kinds %d and %d", body(seeded)[0], body(fullBytes)[0])
	}
	if r := float64(len(seeded)) / float64(len(fullBytes)); r > 0.55 {
		t.Fatalf("seeded file is %.2f of the full one", r)
	}
	for _, b := range [][]byte{seeded, fullBytes} {
		back, err := c.UnmarshalCiphertexts(b)
		if err != nil {
			t.Fatal(err)
		}
		for i, row := range cts.values {
			for g, ct := range row {
				if !back.values[i][g].Equal(ct) {
					t.Fatalf("row %d group %d decodes to another ciphertext", i, g)
				}
			}
		}
		again, err := back.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, b) {
			t.Fatal("re-encoding changes the file")
		}
	}
	// A seed that does not match the first polynomial decodes (the file's
	// checksum is its integrity check) to a ciphertext of another uniform
	// half: it no longer decrypts to the samples.
	bd := bytes.Clone(body(seeded))
	bd[len(bd)-1] ^= 1
	other, err := c.UnmarshalCiphertexts(reseal(seeded, bd))
	if err != nil {
		t.Fatal(err)
	}
	if other.values[0][len(other.values[0])-1].Equal(cts.values[0][len(cts.values[0])-1]) {
		t.Fatal("a different seed gave the same ciphertext")
	}
}
