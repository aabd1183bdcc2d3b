package cuda

import (
	"crypto/sha256"
	"encoding"
	"encoding/binary"
	"fmt"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"

	"github.com/fhec/fhec/runtime"
)

// Evaluate is runtime.Context.Evaluate on a Device: every group of in runs
// through an Executor, and the outputs are the CPU runtime's, bit for bit.
// The keys and ciphertexts cross through the runtime's documented binary
// format (runtime/binary.go), the runtime's only public view of them.
func Evaluate(dev Device, rc *runtime.Context, evk *runtime.EvaluationKeys, in *runtime.Ciphertexts) (*runtime.Ciphertexts, *ExecStats, error) {
	if rc == nil || evk == nil || in == nil {
		return nil, nil, fmt.Errorf("cuda: missing plan context, evaluation keys or ciphertexts")
	}
	if in.Kind() != runtime.Inputs {
		return nil, nil, fmt.Errorf("cuda: ciphertexts are plan %v, want plan inputs", in.Kind())
	}
	if featureMajor(rc.Plan()) {
		return nil, nil, fmt.Errorf("cuda: feature-major plans (DOT) run on the CPU backend only; use --backend cpu")
	}
	rlk, gks, err := lattigoKeys(evk)
	if err != nil {
		return nil, nil, err
	}
	e, err := NewExecutor(dev, rc.Plan(), rlk, gks)
	if err != nil {
		return nil, nil, err
	}
	defer e.Close()
	p := rc.Plan()
	groups := rc.Groups(in.Samples())
	outs := make([][]*rlwe.Ciphertext, len(p.Outputs))
	for g := range groups {
		ins := make([]*rlwe.Ciphertext, len(p.Inputs))
		for i := range ins {
			ins[i] = in.Ciphertext(i, g)
		}
		res, err := e.Run(ins)
		if err != nil {
			return nil, nil, fmt.Errorf("group %d: %w", g, err)
		}
		for o, ct := range res {
			outs[o] = append(outs[o], ct)
		}
	}
	// Outputs: the runtime's ciphertext file body, sealed and decoded by
	// the runtime (which checks it against the plan).
	body := []byte{byte(runtime.Outputs)}
	body = binary.LittleEndian.AppendUint32(body, uint32(len(outs)))
	body = binary.LittleEndian.AppendUint64(body, uint64(in.Samples()))
	body = binary.LittleEndian.AppendUint32(body, uint32(groups))
	for _, row := range outs {
		for _, ct := range row {
			b, err := ct.MarshalBinary()
			if err != nil {
				return nil, nil, fmt.Errorf("cuda: encode output: %w", err)
			}
			body = appendBlob(body, b)
		}
	}
	fp := rc.Fingerprint()
	out, err := rc.UnmarshalCiphertexts(seal(runtime.MagicCiphertexts, fp, body))
	if err != nil {
		return nil, nil, err
	}
	return out, &e.Stats, nil
}

func appendBlob(b, blob []byte) []byte {
	b = binary.LittleEndian.AppendUint64(b, uint64(len(blob)))
	return append(b, blob...)
}

// seal frames a body as the runtime's binary files: magic, version,
// fingerprint, length, body, SHA-256.
func seal(magic string, fp [32]byte, body []byte) []byte {
	out := append([]byte(magic), 0, 0)
	binary.LittleEndian.PutUint16(out[len(magic):], runtime.FormatVersion)
	out = append(out, fp[:]...)
	out = binary.LittleEndian.AppendUint64(out, uint64(len(body)))
	out = append(out, body...)
	sum := sha256.Sum256(out)
	return append(out, sum[:]...)
}

// lattigoKeys decodes the relinearization and Galois keys from the
// runtime's evaluation-key file (the bootstrapping section, if any, is
// not read: the executor refuses plans that bootstrap).
func lattigoKeys(evk *runtime.EvaluationKeys) (rlk *rlwe.RelinearizationKey, gks []*rlwe.GaloisKey, err error) {
	b, err := evk.MarshalBinary()
	if err != nil {
		return nil, nil, err
	}
	const header = 8 + 2 + 32 + 8
	if len(b) < header+sha256.Size || string(b[:8]) != runtime.MagicEvaluationKeys {
		return nil, nil, fmt.Errorf("cuda: unexpected evaluation-key encoding")
	}
	n := binary.LittleEndian.Uint64(b[42:])
	if n > uint64(len(b)-header-sha256.Size) {
		return nil, nil, fmt.Errorf("cuda: unexpected evaluation-key encoding")
	}
	r := &keyReader{b: b[header : header+int(n)]}
	if has := r.u8(); has == 1 {
		rlk = new(rlwe.RelinearizationKey)
		r.unmarshal(rlk)
	}
	count := r.u32()
	for i := uint32(0); i < count && r.err == nil; i++ {
		gk := new(rlwe.GaloisKey)
		r.unmarshal(gk)
		gks = append(gks, gk)
	}
	if r.err != nil {
		return nil, nil, fmt.Errorf("cuda: evaluation keys: %w", r.err)
	}
	return rlk, gks, nil
}

type keyReader struct {
	b   []byte
	off int
	err error
}

func (r *keyReader) take(n uint64) []byte {
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)-r.off) {
		r.err = fmt.Errorf("truncated")
		return nil
	}
	s := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return s
}

func (r *keyReader) u8() uint8 {
	if s := r.take(1); s != nil {
		return s[0]
	}
	return 0
}

func (r *keyReader) u32() uint32 {
	if s := r.take(4); s != nil {
		return binary.LittleEndian.Uint32(s)
	}
	return 0
}

func (r *keyReader) unmarshal(v encoding.BinaryUnmarshaler) {
	s := r.take(8)
	if s == nil {
		return
	}
	blob := r.take(binary.LittleEndian.Uint64(s))
	if r.err != nil {
		return
	}
	func() {
		defer recoverTo(&r.err)
		r.err = v.UnmarshalBinary(blob)
	}()
}
