package runtime

import (
	"fmt"
	"math"
	"math/big"
	"math/bits"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/ring"

	"github.com/fhec/fhec/plan"
	"github.com/fhec/fhec/plan/planpb"
)

// DOT (plan format 1.3, feature-major dense rows):
//
//	result = sum_k w_k * args[k] + B,  w_k = round(coeffs[k] * scale),
//	                                   B   = round(bias * S * scale)
//
// with S the args' common exact scale. It runs at ring level: every w_k is
// an integer multiplying each coefficient of each component, so per limb j
// (modulus q) the result is sum_k (w_k mod q) * c_k mod q, accumulated
// lazily and reduced only when the accumulator could overflow: in one
// 64-bit word for primes below 2^29.5 (dotKernel64), in two words of split
// weights up to 2^38 (dotKernelSplit), in 128 bits above (dotLimb). B is a
// constant polynomial: the value B mod q at every NTT point of component 0.
// DOTs sharing their arguments run together (dotRows), blocked over
// coefficients.

// dotBuf holds one goroutine's accumulators for a block of coefficients.
type dotBuf struct {
	acc, hi, lo []uint64
	pack        []uint64 // a block of every argument, contiguous
}

// dotRowWeights are one DOT's nonzero weights mod one prime: w[t] multiplies
// argument idx[t].
type dotRowWeights struct {
	idx []int32
	w   []uint64
}

// dot runs one DOT instruction (a group of one).
func (w *worker) dot(ins *planpb.Instruction, vals []*rlwe.Ciphertext) (*rlwe.Ciphertext, error) {
	res, err := w.dotRows([]*planpb.Instruction{ins}, vals)
	if err != nil {
		return nil, err
	}
	return res[0], nil
}

// dotGroup runs every DOT of a group (instructions with the same arguments,
// see Context.dotGroups) in one pass over their arguments, and puts each
// result in out by instruction index.
func (w *worker) dotGroup(group []int, vals []*rlwe.Ciphertext, out map[int]*rlwe.Ciphertext) error {
	prog := w.c.plan.Program
	insts := make([]*planpb.Instruction, len(group))
	for i, pc := range group {
		insts[i] = prog[pc]
	}
	res, err := w.dotRows(insts, vals)
	if err != nil {
		return err
	}
	for i, pc := range group {
		out[pc] = res[i]
	}
	return nil
}

// dotRows evaluates DOT instructions that share their argument list: a
// matrix of integer weights times a vector of ciphertexts. The work is
// blocked over coefficients so that a block of every argument stays in
// cache while all rows read it (a dense layer streams its arguments once,
// not once per row), and split over w.par goroutines by coefficient range.
func (w *worker) dotRows(insts []*planpb.Instruction, vals []*rlwe.Ciphertext) (res []*rlwe.Ciphertext, err error) {
	defer recoverTo(&err)
	ins0 := insts[0]
	n := len(ins0.Args)
	for _, ins := range insts {
		if len(ins.Args) == 0 || len(ins.Coeffs) != len(ins.Args) {
			return nil, fmt.Errorf("DOT with %d arguments and %d coefficients", len(ins.Args), len(ins.Coeffs))
		}
		if len(ins.Args) != n {
			return nil, fmt.Errorf("DOT group: %d and %d arguments", n, len(ins.Args))
		}
		for k, a := range ins.Args {
			if a != ins0.Args[k] {
				return nil, fmt.Errorf("DOT group: argument %d differs (values %d and %d)", k, ins0.Args[k], a)
			}
		}
	}
	args := make([]*rlwe.Ciphertext, n)
	for k, a := range ins0.Args {
		if int(a) >= len(vals) || vals[a] == nil {
			return nil, fmt.Errorf("argument %d (value %d) is not a computed ciphertext", k, a)
		}
		args[k] = vals[a]
	}
	a0 := args[0]
	level, degree := a0.Level(), a0.Degree()
	if degree < 1 || degree > 2 {
		return nil, fmt.Errorf("argument 0 (value %d) has degree %d, want 1 or 2", ins0.Args[0], degree)
	}
	N := w.c.params.N()
	for k, ct := range args {
		switch {
		case ct.MetaData == nil:
			return nil, fmt.Errorf("argument %d (value %d) has no metadata", k, ins0.Args[k])
		case ct.Level() != level || ct.Degree() != degree:
			return nil, fmt.Errorf("argument %d (value %d) is at level %d degree %d, argument 0 at level %d degree %d; all must agree",
				k, ins0.Args[k], ct.Level(), ct.Degree(), level, degree)
		case !ct.Scale.Equal(a0.Scale) || ct.Scale.Mod != nil:
			return nil, fmt.Errorf("argument %d (value %d) has scale 2^%.6f, argument 0 2^%.6f; all must be exactly equal",
				k, ins0.Args[k], math.Log2(ct.Scale.Float64()), math.Log2(a0.Scale.Float64()))
		case ct.IsNTT != a0.IsNTT || ct.IsMontgomery:
			return nil, fmt.Errorf("argument %d (value %d) is not in the NTT form of argument 0", k, ins0.Args[k])
		}
		for _, p := range ct.Value {
			if p.Level() != level || p.N() != N {
				return nil, fmt.Errorf("argument %d (value %d) has polynomials of another level or ring degree", k, ins0.Args[k])
			}
		}
	}
	R := len(insts)
	weights := make([][]int64, R)
	biases := make([]*big.Int, R)
	res = make([]*rlwe.Ciphertext, R)
	terms := int64(0)
	for r, ins := range insts {
		if weights[r], err = dotWeights(ins); err != nil {
			return nil, err
		}
		for _, x := range weights[r] {
			if x != 0 {
				terms++
			}
		}
		biases[r] = dotBias(ins.Bias, a0.Scale, ins.Scale)
		res[r] = rlwe.NewCiphertext(w.c.params, degree, level)
		*res[r].MetaData = *a0.MetaData.CopyNew()
		res[r].Scale = a0.Scale.Mul(rlwe.NewScale(ins.Scale))
	}
	// The weights mod each prime, zero weights skipped.
	ringQ := w.c.params.RingQ().AtLevel(level)
	rows := make([][]dotRowWeights, level+1)
	for j, s := range ringQ.SubRings[:level+1] {
		rows[j] = make([]dotRowWeights, R)
		for r, ws := range weights {
			row := &rows[j][r]
			for k, x := range ws {
				if m := reduceInt64(x, s.Modulus); m != 0 {
					row.idx = append(row.idx, int32(k))
					row.w = append(row.w, m)
				}
			}
		}
	}
	block := dotBlock(n)
	par := max(1, min(w.par, N/block))
	span := (N/par + block - 1) / block * block
	run := func(lo, hi int) {
		buf := &dotBuf{acc: make([]uint64, block), hi: make([]uint64, block), lo: make([]uint64, block)}
		in := make([][]uint64, n)
		outs := make([][]uint64, R)
		for j, s := range ringQ.SubRings[:level+1] {
			for i := 0; i <= degree; i++ {
				for k, ct := range args {
					in[k] = ct.Value[i].Coeffs[j]
				}
				for r := range outs {
					outs[r] = res[r].Value[i].Coeffs[j]
				}
				dotKernel(outs, rows[j], in, s.Modulus, s.BRedConstant, lo, hi, block, buf)
			}
			for r, b := range biases {
				if b.Sign() == 0 {
					continue
				}
				bq := new(big.Int).Mod(b, new(big.Int).SetUint64(s.Modulus)).Uint64()
				c0 := res[r].Value[0].Coeffs[j][lo:hi]
				if !res[r].IsNTT { // the constant polynomial's coefficient 0
					c0 = c0[:min(len(c0), 1-min(lo, 1))]
				}
				for x := range c0 {
					c0[x] = ring.CRed(c0[x]+bq, s.Modulus)
				}
			}
		}
	}
	if par == 1 {
		run(0, N)
	} else {
		parts := (N + span - 1) / span
		fanOut(parts, func(k int) { run(k*span, min((k+1)*span, N)) })
	}
	w.eval.n.CtPtMults += terms
	w.eval.n.Additions += int64(R * (n - 1))
	return res, nil
}

// dotBlock is the coefficient block size for n arguments: a block of every
// argument (n * block words) fits in about 1 MiB of cache.
func dotBlock(n int) int {
	b := 16
	for b < 1024 && n*b*2*8 <= 1<<20 {
		b *= 2
	}
	return b
}

// dotKernel sets outs[r][lo:hi] = sum_t rows[r].w[t] * in[rows[r].idx[t]]
// mod q, block by block. With several rows, each block of the arguments is
// first copied into one contiguous buffer: the arguments are separate
// 2^k-word arrays, so their blocks at one offset would map to the same
// cache sets and evict each other while the rows read them.
func dotKernel(outs [][]uint64, rows []dotRowWeights, in [][]uint64, q uint64, bred []uint64, lo, hi, block int, buf *dotBuf) {
	b := bits.Len64(q - 1)
	packed := in
	pack := func(c0, c1 int) [][]uint64 {
		if len(rows) < 2 {
			for k, x := range in {
				packed[k] = x[c0:c1]
			}
			return packed
		}
		n := c1 - c0
		if cap(buf.pack) < len(in)*block {
			buf.pack = make([]uint64, len(in)*block)
		}
		for k, x := range in {
			dst := buf.pack[k*block : k*block+n]
			copy(dst, x[c0:c1])
			packed[k] = dst
		}
		return packed
	}
	packed = make([][]uint64, len(in))
	switch {
	case 2*b <= 59:
		dotKernel64(outs, rows, pack, q, bred, lo, hi, block, buf.acc)
		return
	case b+(b+1)/2 <= 57:
		dotKernelSplit(outs, rows, pack, q, bred, lo, hi, block, buf)
		return
	}
	for c0 := lo; c0 < hi; c0 += block {
		c1 := min(c0+block, hi)
		blk := pack(c0, c1)
		for r, row := range rows {
			dst := outs[r][c0:c1]
			if len(row.idx) == 0 {
				clear(dst)
				continue
			}
			ins := make([][]uint64, len(row.idx))
			for t, k := range row.idx {
				ins[t] = blk[k]
			}
			dotLimb(dst, row.w, ins, q, bred, buf.hi, buf.lo)
		}
	}
}

// dotKernelSplit is dotKernel for primes of 30 to 38 bits (a ciphertext's
// q0, sized for the largest value): each weight w < q splits into
// halves w = wh 2^h + wl (h = ceil(b/2)), whose products with a
// coefficient stay below 2^(b+h) <= 2^57 and accumulate in two plain 64-bit
// words (folded every 2^(63-b-h) products); the sum is wh-part 2^h + wl-part
// mod q. Two plain multiplies per product are faster here than one
// 64x64->128 multiply with its carries (measured 0.7 against 1.2 ns).
func dotKernelSplit(outs [][]uint64, rows []dotRowWeights, pack func(c0, c1 int) [][]uint64, q uint64, bred []uint64, lo, hi, block int, buf *dotBuf) {
	b := bits.Len64(q - 1)
	h := uint((b + 1) / 2)
	mask := uint64(1)<<h - 1
	// After a fold both words are below q < 2^(b+h); with at most T
	// products below 2^(b+h) added since, each stays below 2^64.
	T := min(1<<(63-b-int(h)), 1<<20)
	wh := make([][]uint64, len(rows))
	wl := make([][]uint64, len(rows))
	for r, row := range rows {
		wh[r] = make([]uint64, len(row.w))
		wl[r] = make([]uint64, len(row.w))
		for t, w := range row.w {
			wh[r][t], wl[r][t] = w>>h, w&mask
		}
	}
	if cap(buf.hi) < block {
		buf.hi, buf.lo = make([]uint64, block), make([]uint64, block)
	}
	fold := func(ah, al []uint64) {
		for i := range ah {
			ah[i] = ring.BRedAdd(ah[i], q, bred)
			al[i] = ring.BRedAdd(al[i], q, bred)
		}
	}
	for c0 := lo; c0 < hi; c0 += block {
		c1 := min(c0+block, hi)
		ah, al := buf.hi[:c1-c0], buf.lo[:c1-c0]
		in := pack(c0, c1)
		for r, row := range rows {
			clear(ah)
			clear(al)
			idx, hs, ls := row.idx, wh[r], wl[r]
			cnt, t := 0, 0
			for ; t+2 <= len(idx); t += 2 {
				if cnt+2 > T {
					fold(ah, al)
					cnt = 1
				}
				x0, x1 := in[idx[t]], in[idx[t+1]]
				h0, h1, l0, l1 := hs[t], hs[t+1], ls[t], ls[t+1]
				x1, ah, al := x1[:len(x0)], ah[:len(x0)], al[:len(x0)]
				for i, v := range x0 {
					v1 := x1[i]
					ah[i] += h0*v + h1*v1
					al[i] += l0*v + l1*v1
				}
				cnt += 2
			}
			if t < len(idx) {
				if cnt+1 > T {
					fold(ah, al)
				}
				x := in[idx[t]]
				h0, l0 := hs[t], ls[t]
				ah, al := ah[:len(x)], al[:len(x)]
				for i, v := range x {
					ah[i] += h0 * v
					al[i] += l0 * v
				}
			}
			dst := outs[r][c0:c1]
			dst = dst[:len(ah)]
			for i, v := range ah {
				dst[i] = ring.BRedAdd(ring.BRedAdd(v, q, bred)<<h+ring.BRedAdd(al[i], q, bred), q, bred)
			}
		}
	}
}

// dotKernel64 is dotKernel for primes below 2^29.5: products below
// 2^(2b) <= 2^59 accumulate in plain 64-bit words, folded (Barrett) every
// 2^(63-2b) products, so each product costs one multiply and one add.
func dotKernel64(outs [][]uint64, rows []dotRowWeights, pack func(c0, c1 int) [][]uint64, q uint64, bred []uint64, lo, hi, block int, acc []uint64) {
	b := bits.Len64(q - 1)
	// After a fold acc < q < 2^(2b); with at most T products (each below
	// 2^(2b)) added since, acc < (T+1) 2^(2b) <= 2^64.
	T := min(1<<(63-2*b), 1<<20)
	for c0 := lo; c0 < hi; c0 += block {
		c1 := min(c0+block, hi)
		a := acc[:c1-c0]
		in := pack(c0, c1)
		for r, row := range rows {
			clear(a)
			idx, ws := row.idx, row.w
			cnt, t := 0, 0
			for ; t+4 <= len(idx); t += 4 {
				if cnt+4 > T {
					for i := range a {
						a[i] = ring.BRedAdd(a[i], q, bred)
					}
					cnt = 1
				}
				x0 := in[idx[t]]
				x1 := in[idx[t+1]]
				x2 := in[idx[t+2]]
				x3 := in[idx[t+3]]
				w0, w1, w2, w3 := ws[t], ws[t+1], ws[t+2], ws[t+3]
				x1, x2, x3, a := x1[:len(x0)], x2[:len(x0)], x3[:len(x0)], a[:len(x0)]
				for i, v := range x0 {
					a[i] += w0*v + w1*x1[i] + w2*x2[i] + w3*x3[i]
				}
				cnt += 4
			}
			for ; t < len(idx); t++ {
				if cnt+1 > T {
					for i := range a {
						a[i] = ring.BRedAdd(a[i], q, bred)
					}
					cnt = 1
				}
				x := in[idx[t]]
				wt := ws[t]
				a := a[:len(x)]
				for i, v := range x {
					a[i] += wt * v
				}
				cnt++
			}
			dst := outs[r][c0:c1]
			dst = dst[:len(a)]
			for i, v := range a {
				dst[i] = ring.BRedAdd(v, q, bred)
			}
		}
	}
}

// dotWeights returns w_k = round(coeffs[k] * scale), checked as the plan
// validator does (|w_k| < plan.MaxDotWeight).
func dotWeights(ins *planpb.Instruction) ([]int64, error) {
	if !(ins.Scale > 0) || math.IsInf(ins.Scale, 0) {
		return nil, fmt.Errorf("weight scale %v is not a positive finite number", ins.Scale)
	}
	out := make([]int64, len(ins.Coeffs))
	for k, c := range ins.Coeffs {
		x := math.Round(c * ins.Scale)
		if math.IsNaN(x) || !(math.Abs(x) < plan.MaxDotWeight) {
			return nil, fmt.Errorf("coefficient %d (%v) times the scale %v is not an int64 weight", k, c, ins.Scale)
		}
		out[k] = int64(x)
	}
	return out, nil
}

// dotBias returns round(bias * s * scale), rounding half away from zero, in
// exact (big) arithmetic on the exact scale s.
func dotBias(bias float64, s rlwe.Scale, scale float64) *big.Int {
	out := new(big.Int)
	if bias == 0 {
		return out
	}
	f := new(big.Float).SetPrec(256).SetFloat64(bias)
	f.Mul(f, &s.Value)
	f.Mul(f, new(big.Float).SetPrec(256).SetFloat64(scale))
	half := new(big.Float).SetPrec(256).SetFloat64(0.5)
	if f.Sign() < 0 {
		f.Sub(f, half)
	} else {
		f.Add(f, half)
	}
	f.Int(out) // truncates toward zero
	return out
}

// reduceInt64 returns w mod q in [0, q).
func reduceInt64(w int64, q uint64) uint64 {
	if w >= 0 {
		return uint64(w) % q
	}
	r := (uint64(-(w + 1)) + 1) % q // |w| without overflow at MinInt64
	if r == 0 {
		return 0
	}
	return q - r
}

// dotChunk is the number of products of two values below q that a 128-bit
// accumulator holds without overflow: floor((2^128 - 1) / (q - 1)^2), at
// most 2^20.
func dotChunk(q uint64) int {
	b := bits.Len64(q - 1)
	if 2*b <= 128-20 {
		return 1 << 20
	}
	return 1 << (128 - 2*b) // (q-1)^2 < 2^(2b)
}

// dotLimb sets out = sum_k w[k] * in[k] mod q (w[k], in[k][i] < q), with
// hi, lo (len(out) each) as the 128-bit accumulators.
func dotLimb(out []uint64, w []uint64, in [][]uint64, q uint64, bred []uint64, hi, lo []uint64) {
	N := len(out)
	hi, lo = hi[:N], lo[:N]
	clear(hi)
	clear(lo)
	r64 := ring.BRedAdd(1<<63, q, bred)
	r64 = ring.CRed(r64+r64, q) // 2^64 mod q
	chunk := dotChunk(q)
	k := 0
	for k < len(w) {
		end := min(len(w), k+chunk)
		// Four (two) terms per pass over the accumulators, to cut their
		// memory traffic. A chunk starts from 0 or from a folded sum
		// below q, and dotChunk products below (q-1)^2 each keep it
		// below 2^128.
		for ; k+3 < end; k += 4 {
			dotAcc4(hi, lo, in[k:k+4], w[k:k+4])
		}
		for ; k+1 < end; k += 2 {
			dotAcc2(hi, lo, in[k][:N], in[k+1][:N], w[k], w[k+1])
		}
		if k < end {
			dotAcc1(hi, lo, in[k][:N], w[k])
			k++
		}
		if k < len(w) { // fold: (hi, lo) -> (0, (hi, lo) mod q)
			for i := range lo {
				lo[i] = reduce128(hi[i], lo[i], q, r64, bred)
				hi[i] = 0
			}
		}
	}
	for i := range out {
		out[i] = reduce128(hi[i], lo[i], q, r64, bred)
	}
}

// reduce128 returns (hi * 2^64 + lo) mod q.
func reduce128(hi, lo, q, r64 uint64, bred []uint64) uint64 {
	h := ring.BRed(ring.BRedAdd(hi, q, bred), r64, q, bred)
	return ring.CRed(h+ring.BRedAdd(lo, q, bred), q)
}

func dotAcc1(hi, lo, x []uint64, w uint64) {
	hi, lo = hi[:len(x)], lo[:len(x)]
	for i, v := range x {
		h, l := bits.Mul64(w, v)
		var c uint64
		lo[i], c = bits.Add64(lo[i], l, 0)
		hi[i] += h + c
	}
}

func dotAcc2(hi, lo, x, y []uint64, wx, wy uint64) {
	hi, lo, y = hi[:len(x)], lo[:len(x)], y[:len(x)]
	for i, v := range x {
		h1, l1 := bits.Mul64(wx, v)
		h2, l2 := bits.Mul64(wy, y[i])
		l, c1 := bits.Add64(lo[i], l1, 0)
		l, c2 := bits.Add64(l, l2, 0)
		lo[i] = l
		hi[i] += h1 + h2 + c1 + c2
	}
}

func dotAcc4(hi, lo []uint64, in [][]uint64, w []uint64) {
	x0 := in[0]
	n := len(x0)
	hi, lo = hi[:n], lo[:n]
	x1, x2, x3 := in[1][:n], in[2][:n], in[3][:n]
	w0, w1, w2, w3 := w[0], w[1], w[2], w[3]
	for i, v := range x0 {
		h0, l0 := bits.Mul64(w0, v)
		h1, l1 := bits.Mul64(w1, x1[i])
		h2, l2 := bits.Mul64(w2, x2[i])
		h3, l3 := bits.Mul64(w3, x3[i])
		l, c0 := bits.Add64(lo[i], l0, 0)
		l, c1 := bits.Add64(l, l1, 0)
		l, c2 := bits.Add64(l, l2, 0)
		l, c3 := bits.Add64(l, l3, 0)
		lo[i] = l
		hi[i] += h0 + h1 + h2 + h3 + c0 + c1 + c2 + c3
	}
}
