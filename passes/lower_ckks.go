package passes

import (
	"fmt"
	"math"

	"github.com/fhec/fhec/costmodel"
	"github.com/fhec/fhec/ir"
)

// LowerToCKKS assigns slot layouts and rewrites the tensor-level program into
// ckks-level ops.
//
// Layout: every secret tensor of n elements is a vector tiled with period
// p = nextPow2(n) over all slots, with Batch samples interleaved (see package
// layout): a rotation by k*Batch slots shifts every sample's vector by k,
// cyclically, so dense layers need no masks.
//
// Dense layers (linear, W is m x n) use the diagonal method with baby-step
// giant-step rotations: with p_in, p_out the input and output periods,
// D = min(p_in, p_out) generalized diagonals of length L = max(p_in, p_out),
// d_i[j] = W[j mod p_out][(j+i) mod p_in], and
//
//	y = sum_g rot( sum_b rot(d_{g*n1+b}, -g*n1) * rot(x, b), g*n1 )
//
// with the baby-step size n1 chosen on the offsets present (splitBSGS); all-zero
// diagonals are skipped. When p_in > p_out, log2(p_in/p_out) rotate-and-add
// steps fold the partial sums (the result is tiled with period p_out). The
// bias is one add_plain. Where partial sums may stay in unread slots, a
// layer may instead split its rows over the input's replicas (a blocked
// output) or use strided rows (a lattice output, which the next dense layer
// reads in lattice units); see choosePacking. An input that only a dense
// layer reads may be placed (place_input.go): the client scatters it so
// that the layer needs fewer diagonals.
// Element-wise mul/add by constants become mul_plain/add_plain, secret*secret
// a ckks.mul, poly a ckks.poly on [-1, 1]; reshape and flatten are free
// (row-major order is the layout's order).
//
// Requires: tensor-level IR after SelectParams (attrs logN, q, log_scale,
// batch), polynomials normalized to [-1, 1].
// Guarantees: ckks-level IR with each ct*ct product relinearized and no
// rescale yet (ManageScales inserts them): parameters are ciphertexts at the top level and
// scale 2^log_scale; plaintext encodes are provisional (scale 2^log_scale).
// Simulating it on slots gives the tensor program's values.
type LowerToCKKS struct{}

func (LowerToCKKS) Name() string { return "lower-to-ckks" }

func (LowerToCKKS) Run(f *ir.Func, c *Context) error {
	q := f.Moduli()
	if len(q) == 0 {
		return fmt.Errorf("parameters not selected (run select-params first)")
	}
	if f.Attrs["packing"] == "feature-major" {
		return lowerFeatureMajor(f, c)
	}
	batch := int(f.Int64("batch", 1))
	delta := math.Exp2(float64(f.Int64("log_scale", 40)))
	top := len(q) - 1

	feedsPoly := polyReaching(f)
	calib, err := denseInputsBeforePoly(f, c, feedsPoly)
	if err != nil {
		return err
	}
	old := f.Ops
	f.Ops = nil
	f.Attrs["scales"] = "nominal"
	ct := map[*ir.Value]*ir.Value{} // tensor value -> ckks value
	logN := int(f.Int64("logN", 1))
	low := &lowerer{f: f, batch: batch, delta: delta, slots: 1 << (logN - 1), costs: c.packingCosts(logN)}
	users := map[*ir.Value][]*ir.Op{}
	for _, op := range old {
		for _, a := range op.Args {
			users[a] = append(users[a], op)
		}
	}
	for i, p := range f.Params {
		n := p.Type.NumElements()
		lay := ir.Layout{Len: n, Period: nextPow2(n), Batch: batch}
		if lin := soleDenseReader(f, users, p); lin != nil {
			if w := constOf(f, lin.Args[1]); w != nil {
				lay = low.placeInput(lay, p.Type.Shape, w, feedsPoly[lin.Result()])
			}
		}
		t := ir.Type{Kind: ir.CipherType, Shape: p.Type.Shape, Level: top, Scale: delta, Degree: 1, Layout: lay}
		nv := &ir.Value{Name: p.Name, Type: t}
		f.Params[i] = nv
		ct[p] = nv
	}
	arg := func(op *ir.Op, i int) (*ir.Value, error) {
		v := ct[op.Args[i]]
		if v == nil {
			return nil, fmt.Errorf("%s %%%s: operand %%%s is not an encrypted value", op.Code, op.Result().Name, op.Args[i].Name)
		}
		return v, nil
	}
	for _, op := range old {
		if op.Code == "const" {
			continue
		}
		r := op.Result()
		if !r.Type.Secret {
			return fmt.Errorf("%s %%%s does not depend on the input (fold-constants should have removed it)", op.Code, r.Name)
		}
		x, err := arg(op, 0)
		var out *ir.Value
		if err == nil {
			switch op.Code {
			case "reshape", "flatten":
				out = x
			case "linear":
				low.clean = feedsPoly[r]
				out, err = low.linear(x, constOf(f, op.Args[1]), constOf(f, op.Args[2]), r.Name, calib[r])
			case "poly":
				if op.Float("lo", 0) != -1 || op.Float("hi", 0) != 1 {
					err = fmt.Errorf("poly %%%s is not on [-1, 1] (run normalize-poly first)", r.Name)
					break
				}
				if op.Int("bootstrap", 0) != 0 { // placed by PlaceBootstraps
					if x, err = low.bootstrap(x); err != nil {
						break
					}
				}
				coeffs := op.Floats("coeffs")
				out, err = f.Append("ckks.poly", r.Name, map[string]ir.Attr{"coeffs": coeffs,
					"depth": int64(ir.PolyDepth(len(coeffs) - 1)), "scale": delta}, x)
			case "mul", "add", "sub":
				out, err = low.elementwise(op, x, ct)
			default:
				err = fmt.Errorf("%s %%%s has no CKKS lowering", op.Code, r.Name)
			}
		}
		if err != nil {
			return err
		}
		ct[r] = out
	}
	for i, r := range f.Results {
		v := ct[r]
		if v == nil {
			return fmt.Errorf("result %%%s does not depend on the encrypted input", r.Name)
		}
		recordResult(f, i, r)
		f.Results[i] = v
	}
	f.RemoveDead()
	return nil
}

// recordResult keeps tensor result i's name and shape (and an empty client
// tail unless one is set) in f's attributes, for the plan's outputs.
// soleDenseReader returns the linear op that is the only reader of v,
// through reshapes and flattens (which keep the element order), or nil.
func soleDenseReader(f *ir.Func, users map[*ir.Value][]*ir.Op, v *ir.Value) *ir.Op {
	for {
		us := users[v]
		if len(us) != 1 || us[0].Args[0] != v {
			return nil
		}
		switch us[0].Code {
		case "reshape", "flatten":
			v = us[0].Result()
		case "linear":
			return us[0]
		default:
			return nil
		}
	}
}

func recordResult(f *ir.Func, i int, r *ir.Value) {
	f.Attrs[fmt.Sprintf("result%d_shape", i)] = toInt64s(r.Type.Shape)
	f.Attrs[fmt.Sprintf("result%d_name", i)] = r.Name
	if _, ok := f.Attrs[fmt.Sprintf("result%d_client_ops", i)]; !ok {
		f.Attrs[fmt.Sprintf("result%d_client_ops", i)] = ""
	}
}

// maxPackingSamples bounds the calibration samples the packing check reads.
const maxPackingSamples = 256

// denseInputsBeforePoly returns, for each dense layer whose result only
// polynomials read (and their results only dense layers), its input on each calibration sample (tensor order) and
// those polynomials: what decides whether a packing leaving partial sums is
// safe there.
func denseInputsBeforePoly(f *ir.Func, c *Context, feedsPoly map[*ir.Value]bool) (map[*ir.Value]*polyFeed, error) {
	out := map[*ir.Value]*polyFeed{}
	if len(c.Calibration) == 0 {
		return out, nil
	}
	users := f.Users()
	var cand []*ir.Op
	for _, op := range f.Ops {
		if op.Code != "linear" || !feedsPoly[op.Result()] {
			continue
		}
		// only polynomials read it, and only dense layers read those (a
		// slot-wise op with another value would need its layout)
		only := len(users[op.Result()]) > 0
		feed := &polyFeed{}
		for _, u := range users[op.Result()] {
			only = only && u.Code == "poly" && len(u.Floats("coeffs")) > 1 && len(users[u.Result()]) > 0
			for _, v := range users[u.Result()] {
				only = only && v.Code == "linear"
			}
			feed.polys = append(feed.polys, u.Floats("coeffs"))
			feed.bootstrap = feed.bootstrap || u.Int("bootstrap", 0) != 0
		}
		if only {
			cand = append(cand, op)
			out[op.Result()] = feed
		}
	}
	if len(cand) == 0 {
		return out, nil
	}
	for s, sample := range c.Calibration {
		if s == maxPackingSamples {
			break
		}
		vals, err := ir.InterpretAll(f, sample)
		if err != nil {
			return nil, fmt.Errorf("calibration sample %d: %w", s, err)
		}
		for _, op := range cand {
			out[op.Result()].samples = append(out[op.Result()].samples, vals[op.Args[0]].Data)
		}
	}
	return out, nil
}

type lowerer struct {
	f     *ir.Func
	batch int
	slots int
	delta float64
	// clean: the dense layer being lowered feeds a polynomial, so every slot
	// of its output must hold a bounded value (no partial sums): CKKS
	// decodes all slots at once, and a polynomial evaluated far outside its
	// interval in an unread slot overflows the modulus and ruins them all.
	clean bool
	// lattice: the layer runs in lattice units (see linear): no row split,
	// whose blocked output a lattice cannot express.
	lattice bool
	boots   map[*ir.Value]*ir.Value // bootstrapped copies, shared by all readers
	costs   packingCosts            // weigh the packing choices
}

// bootstrap returns x refreshed by ckks.bootstrap (once per value).
func (l *lowerer) bootstrap(x *ir.Value) (*ir.Value, error) {
	if b := l.boots[x]; b != nil {
		return b, nil
	}
	b, err := l.f.Append("ckks.bootstrap", x.Name+".bts", nil, x)
	if err != nil {
		return nil, err
	}
	if l.boots == nil {
		l.boots = map[*ir.Value]*ir.Value{}
	}
	l.boots[x] = b
	return b, nil
}

func (l *lowerer) encode(hint string, data []float64, level int, scale float64) (*ir.Value, error) {
	k := l.f.AddConst(hint, []int{len(data)}, data)
	return l.f.Append("ckks.encode", hint, map[string]ir.Attr{"const": k.Name, "batch": int64(l.batch),
		"level": int64(level), "scale": scale})
}

func (l *lowerer) rotate(x *ir.Value, k int, hint string) (*ir.Value, error) {
	return l.f.Append("ckks.rotate", hint, map[string]ir.Attr{"offset": int64(k * l.batch)}, x)
}

func (l *lowerer) add(a, b *ir.Value, hint string) (*ir.Value, error) {
	if a == nil {
		return b, nil
	}
	return l.f.Append("ckks.add", hint, nil, a, b)
}

// packingCosts weighs the ways to pack a dense layer: each operation's cost
// relative to a rotation (a full key switch), from the cost table the
// compilation uses (costmodel.Default, or one `fhec bench --calibrate`
// measured). Defaults, measured at logN 13 (level 2 of 3, one P prime,
// about 9 ms a rotation on a quiet core): in a LINEAR's double-hoisted
// evaluation a giant step costs about as much as a rotation (a
// decomposition, a key product, a mod-down of one polynomial), a baby step
// 0.11 to 0.21 of it depending on the load (key product and automorphism in
// QP, its share of the diagonal products included); a rotate-and-add fold
// step is a rotation; a ciphertext-plaintext product about 0.02.
type packingCosts struct{ costmodel.Weights }

// defaultCosts are the default table's weights.
var defaultCosts = packingCosts{costmodel.Default().At(13).Weights()}

// costKey is charged for every distinct rotation, beside its time: its
// Galois key is generated by the client, uploaded and held by the server
// (2.5 to 5 MiB each at logN 13), so that between splits of about the same
// time the one with fewer keys wins: on the 784-128-10 MLP, 8 baby steps x
// 4 giant steps (26 rotations in all) ran as fast as 16 x 2 (34 rotations)
// in paired measurements, within the machine's noise. It is a preference,
// not a time, and no calibration changes it.
const costKey = 0.3

// rotations is the cost of a dense layer's rotations: babies and giants
// (each counting the unrotated step 0) and folds, each with its key.
func (c packingCosts) rotations(babies, giants, folds int) float64 {
	return (c.BabyStep+costKey)*float64(babies-1) + (c.GiantStep+costKey)*float64(giants-1) + (c.Rotation+costKey)*float64(folds)
}

// linearPacking is one way to pack a dense layer.
type linearPacking struct {
	g      int // row blocks, one per input replica (1: no split)
	pOut   int // output period (g == 1) or rows per block (g > 1)
	L, D   int // diagonal length and count
	folds  int
	babies int
	giants int
	// stride > 0: strided rows. Row r owns the slots [r*stride,
	// (r+1)*stride) of the L = slots per sample; diagonal i is offset
	// i*stride, so slot r*stride + t sums the columns congruent to t mod
	// stride, and folds by stride/2 .. 1 leave row r's sum at r*stride
	// (the output is a lattice: Block 1, Stride stride).
	stride int
}

// step is the slot offset between consecutive diagonals.
func (lp linearPacking) step() int { return max(1, lp.stride) }

func (lp linearPacking) cost(c packingCosts) float64 {
	return c.rotations(lp.babies, lp.giants, lp.folds) + c.PtMult*float64(lp.D)
}

// bsgs splits d diagonals into n1 baby steps (a power of two) and n2 giant
// steps at the least cost (rotations): a hoisted baby step costs a fraction
// b of a giant step, so the split leans to baby steps (n1 ~ sqrt(d/b))
// rather than to the fewest rotations (n1 ~ sqrt(d)),
// less so with each rotation's key counted. It prices a dense range of
// diagonals; splitBSGS prices the offsets a layer really has.
func (c packingCosts) bsgs(d int) (n1, n2 int) {
	best := math.Inf(1)
	for b := 1; b <= nextPow2(d); b <<= 1 {
		g := (d + b - 1) / b
		if cost := c.rotations(b, g, 0); cost < best-1e-9 {
			best, n1, n2 = cost, b, g
		}
	}
	return n1, n2
}

func log2(n int) int {
	k := 0
	for 1<<k < n {
		k++
	}
	return k
}

// choosePacking compares the plain generalized-diagonal packing with row
// splits over the input's replicas (a contiguous input of period pIn
// repeats perSample/pIn times; g replicas can each compute m/g of the rows
// with the same rotations of x, which cuts diagonals and rotations when few
// samples share a ciphertext).
//
// A strided-row packing (see linearPacking.stride) costs what the row split
// over the same slots costs, but its output is a lattice, on which the next
// dense layer runs in lattice units: fewer folds there than on the blocked
// output of a row split (the 784-128-10 MLP's second layer: 3 folds, not 4).
// It is taken over a row split of equal cost. partial: packings that leave
// partial sums in slots that hold no output (row splits, strided rows) are
// allowed; rowSplit: row splits are (not on a lattice input, see linear).
func choosePacking(c packingCosts, in ir.Layout, m, perSample int, partial, rowSplit bool) linearPacking {
	pIn := in.Period
	pOut := nextPow2(m)
	best := linearPacking{g: 1, pOut: pOut, L: max(pIn, pOut), D: min(pIn, pOut)}
	best.folds = log2(best.L / pOut)
	best.babies, best.giants = c.bsgs(best.D)
	if in.Block != 0 || in.Positions != "" || !partial {
		return best
	}
	for g := 2; rowSplit && g*pIn <= perSample && g <= m; g *= 2 {
		b := nextPow2((m + g - 1) / g)
		if b >= pIn {
			continue
		}
		lp := linearPacking{g: g, pOut: b, L: g * pIn, D: b, folds: log2(pIn / b)}
		lp.babies, lp.giants = c.bsgs(lp.D)
		if lp.cost(c) < best.cost(c) {
			best = lp
		}
	}
	if S := perSample / pOut; S >= 2 && S <= pIn {
		lp := linearPacking{g: 1, stride: S, pOut: pOut, L: perSample, D: pIn / S, folds: log2(S)}
		lp.babies, lp.giants = c.bsgs(lp.D)
		if lp.cost(c) < best.cost(c) || best.g > 1 && lp.cost(c) <= best.cost(c) {
			best = lp
		}
	}
	return best
}

// elementAt inverts a layout: the element at position pos of the period, or -1.
func elementAt(l ir.Layout, pos int) int {
	if l.Positions != "" {
		for e, p := range l.PositionList() {
			if p == pos {
				return e
			}
		}
		return -1
	}
	if l.Block == 0 {
		if pos < l.Len {
			return pos
		}
		return -1
	}
	blk, off := pos/l.Stride, pos%l.Stride
	if off >= l.Block {
		return -1
	}
	if e := blk*l.Block + off; e < l.Len {
		return e
	}
	return -1
}

// elementsByPosition inverts a layout over its period: the element at each
// position, or -1.
func elementsByPosition(l ir.Layout) []int {
	out := make([]int, l.Period)
	for pos := range out {
		out[pos] = -1
	}
	for e := 0; e < l.Len; e++ {
		out[l.Pos(e)] = e
	}
	return out
}

// denseLayout is how one dense layer is packed: the packing, the diagonal
// orientation, the fold steps, the output layout, the diagonals that are
// not all zero and their baby-step giant-step split.
type denseLayout struct {
	lp     linearPacking
	costs  packingCosts
	sign   int
	folds  []int
	out    ir.Layout
	diagAt func(i, sgn int) ([]float64, bool)
	nz     []int // indices i < D of the nonzero diagonals
	n1     int   // baby steps (in diagonal indices; a power of two)
	babies int   // distinct baby rotations (0 included)
	giants int   // distinct giant rotations (0 included)
}

// layoutDense packs y = W x (W is m x n) for an input of layout in. clean:
// every slot of the result must hold an output value (no partial sums).
func (l *lowerer) layoutDense(in ir.Layout, w *ir.Const, clean bool) *denseLayout {
	m, n := w.Shape[0], w.Shape[1]
	pIn := in.Period
	// a row split or strided rows leave partial sums in the other slots
	lp := choosePacking(l.costs, in, m, l.slots/l.batch, !clean, !l.lattice)
	L, D, step := lp.L, lp.D, lp.step()
	// rowAt gives the output row computed at diagonal position j, or -1.
	rowAt := func(j int) int {
		if lp.stride > 0 {
			if r := j / lp.stride; r < m {
				return r
			}
			return -1
		}
		if lp.g == 1 {
			if r := j % lp.pOut; r < m {
				return r
			}
			return -1
		}
		t, jj := j/pIn, j%pIn
		if r := t*lp.pOut + jj%lp.pOut; r < m {
			return r
		}
		return -1
	}
	colAt := elementsByPosition(in)
	// Diagonal i pairs output position j with input position j + sign*i*step.
	// Both orientations are valid; on a sparse (blocked) input one of them
	// keeps the products' support in a window whose fold needs fewer steps.
	sign := 1
	diagAt := func(i, sgn int) ([]float64, bool) {
		d := make([]float64, L)
		nz := false
		for j := 0; j < L; j++ {
			row := rowAt(j)
			if row < 0 {
				continue
			}
			if col := colAt[((j%pIn+sgn*i*step)%pIn+pIn)%pIn]; col >= 0 {
				d[j] = w.Data[row*n+col]
				nz = nz || d[j] != 0
			}
		}
		return d, nz
	}
	// foldSteps: the rotate-and-add steps k (L/2 .. pOut) that bring every
	// position that can hold a product onto its output position.
	foldSteps := func(sgn int) []int {
		need := 0
		for i := 0; i < D; i++ {
			d, _ := diagAt(i, sgn)
			for j, v := range d {
				if v != 0 {
					need |= j &^ (lp.pOut - 1)
				}
			}
		}
		var steps []int
		for k := L / 2; k >= lp.pOut; k /= 2 {
			if need&k != 0 {
				steps = append(steps, k)
			}
		}
		return steps
	}
	var folds []int
	if lp.stride > 0 {
		for k := lp.stride / 2; k >= 1; k /= 2 { // within each row's slots
			folds = append(folds, k)
		}
	} else if lp.g > 1 {
		for k := pIn / 2; k >= lp.pOut; k /= 2 { // within each replica
			folds = append(folds, k)
		}
	} else if clean {
		// all steps: the output is then tiled, each slot its row's full sum
		for k := L / 2; k >= lp.pOut; k /= 2 {
			folds = append(folds, k)
		}
	} else {
		folds = foldSteps(1)
		if in.Block != 0 || in.Positions != "" {
			if rev := foldSteps(-1); len(rev) < len(folds) {
				folds, sign = rev, -1
			}
		}
	}
	out := ir.Layout{Len: m, Period: lp.pOut, Batch: l.batch}
	if lp.stride > 0 {
		out = ir.Layout{Len: m, Period: L, Batch: l.batch, Block: 1, Stride: lp.stride}
	} else if lp.g > 1 {
		out = ir.Layout{Len: m, Period: lp.g * pIn, Batch: l.batch, Block: lp.pOut, Stride: pIn}
	}
	d := &denseLayout{lp: lp, costs: l.costs, sign: sign, folds: folds, out: out, diagAt: diagAt}
	units := make([]int, 0, D)
	S := l.slots / l.batch // rotations act on diagonal indices modulo S
	for i := 0; i < D; i++ {
		if _, nz := diagAt(i, sign); nz {
			d.nz = append(d.nz, i)
			units = append(units, ((sign*i*step)%S+S)%S)
		}
	}
	d.n1, d.babies, d.giants = d.costs.splitBSGS(units, S)
	return d
}

// splitBSGS chooses the baby-step size n1 (a power of two) for rotations by
// the given offsets (in [0, S)) at the least cost, counting the rotations
// the runtime really makes: the distinct offsets mod n1 (babies) and the
// distinct multiples of n1 below them (giants), as Lattigo's BSGSIndex
// splits them. On a sparse offset set (a convolution's taps) this differs
// from the split of a dense range (bsgs).
func (c packingCosts) splitBSGS(offsets []int, S int) (n1, babies, giants int) {
	if len(offsets) == 0 {
		return 1, 1, 1
	}
	best := math.Inf(1)
	for b := 1; b <= S; b <<= 1 {
		bs, gs := map[int]bool{}, map[int]bool{}
		for _, o := range offsets {
			bs[o%b] = true
			gs[o/b] = true
		}
		if cost := c.rotations(len(bs), len(gs), 0); cost < best-1e-9 {
			best, n1, babies, giants = cost, b, len(bs), len(gs)
		}
	}
	return n1, babies, giants
}

// cost is the packing's cost with the diagonals, rotations and fold steps
// it really takes.
func (d *denseLayout) cost() float64 {
	return d.costs.rotations(d.babies, d.giants, len(d.folds)) + d.costs.PtMult*float64(len(d.nz))
}

// slotValues computes, on the cleartext input x (tensor order), one period
// L of the layer's result slots under layout d: the diagonal products, the
// folds and the bias, as the lowered program computes them.
func (d *denseLayout) slotValues(in ir.Layout, x, bias []float64) []float64 {
	L, pIn, step := d.lp.L, in.Period, d.lp.step()
	xs := place(in, x)
	acc := make([]float64, L)
	for i := 0; i < d.lp.D; i++ {
		diag, nz := d.diagAt(i, d.sign)
		if !nz {
			continue
		}
		for j, v := range diag {
			if v != 0 {
				acc[j] += v * xs[((j%pIn+d.sign*i*step)%pIn+pIn)%pIn]
			}
		}
	}
	for _, k := range d.folds {
		next := make([]float64, L)
		for j := range acc {
			next[j] = acc[j] + acc[(j+k)%L]
		}
		acc = next
	}
	bv := place(d.out, bias)
	for j := range acc {
		acc[j] += bv[j%d.out.Period]
	}
	return acc
}

// polyFeed is what decides whether a dense layer that only polynomials
// read may leave partial sums in the slots that hold no output: its input
// on the calibration samples and the polynomials (Chebyshev coefficients on
// [-1, 1]) that read it.
type polyFeed struct {
	samples   [][]float64
	polys     [][]float64
	bootstrap bool // a bootstrap precedes a polynomial: its input must lie in [-1, 1]
}

// partialSumsSafe says whether packing d, which leaves partial sums in slots
// that hold no output, is safe in front of the polynomials of feed. CKKS
// decodes all slots together: a slot whose value is too large for the
// modulus corrupts the others. The calibrated partial sums get the margin
// the outputs got (the outputs' largest magnitude maps to 1 at most): at
// that bound G, a bootstrap needs G <= 1, and each polynomial's value and
// its highest Chebyshev power times the scale, times the slot count (the
// worst case of decoding), must stay below half of the modulus left after
// it (levelOut). A slot whose value is not its output's counts as a partial
// sum.
func (d *denseLayout) partialSumsSafe(in ir.Layout, w *ir.Const, bias []float64, feed *polyFeed, modulusOut, delta float64, slots int) bool {
	if feed == nil || len(feed.samples) == 0 {
		return false
	}
	m, n := w.Shape[0], w.Shape[1]
	var outMax, partialMax float64
	for _, x := range feed.samples {
		y := make([]float64, m)
		for r := range y {
			y[r] = bias[r]
			for c := 0; c < n; c++ {
				y[r] += w.Data[r*n+c] * x[c]
			}
		}
		for j, v := range d.slotValues(in, x, bias) {
			if e := elementAt(d.out, j%d.out.Period); e >= 0 && math.Abs(v-y[e]) <= 1e-9*(1+math.Abs(y[e])) {
				outMax = math.Max(outMax, math.Abs(v))
			} else {
				partialMax = math.Max(partialMax, math.Abs(v))
			}
		}
	}
	if outMax == 0 || outMax > 1 {
		return false
	}
	g := partialMax / outMax
	if g <= outMax {
		return true // within what the outputs themselves reach
	}
	if feed.bootstrap && g > 1 {
		return false
	}
	limit := modulusOut / 2 / delta / float64(slots)
	for _, c := range feed.polys {
		worst := 0.0
		for k := 0; k <= 256; k++ {
			t := g * (2*float64(k)/256 - 1)
			worst = math.Max(worst, math.Abs(ir.ChebyshevEval(c, t)))
		}
		tk := make([]float64, len(c))
		tk[len(c)-1] = 1
		worst = math.Max(worst, math.Abs(ir.ChebyshevEval(tk, math.Max(g, 1))))
		if !(worst < limit) {
			return false
		}
	}
	return true
}

// linear lowers y = W x + b (see the pass comment): generalized diagonals
// of the slot-level matrix, baby-step giant-step, a rotate-and-add fold, the
// bias; the packing (row split or not) is chosen by choosePacking. In front
// of a polynomial (l.clean) a packing that leaves partial sums is used only
// when it is cheaper and safe on the calibration inputs (partialSumsSafe).
func (l *lowerer) linear(x *ir.Value, w, b *ir.Const, hint string, feed *polyFeed) (*ir.Value, error) {
	if w == nil || b == nil {
		return nil, fmt.Errorf("linear %%%s: weight and bias must be constants", hint)
	}
	m := w.Shape[0]
	in := x.Type.Layout
	// A lattice input (the output of strided rows: element e at slot
	// e*Stride) runs in lattice units: the layer sees a contiguous vector of
	// Period/Stride values, its rotations are scaled by Stride, and its
	// plaintexts are zero between lattice points, whose slots hold partial
	// sums nobody reads (so they stay out of every result).
	low, unit := l, 1
	if isLattice(in) {
		unit = in.Stride
		lc := *l
		lc.batch, lc.lattice = l.batch*unit, true
		low = &lc
		in = ir.Layout{Len: in.Len, Period: in.Period / unit, Batch: lc.batch}
	}
	dl := low.layoutDense(in, w, l.clean)
	if l.clean && feed != nil {
		// the level the polynomials leave: one for this layer's rescale, then their depth
		lvl := x.Type.Level - 1
		for _, c := range feed.polys {
			lvl = min(lvl, x.Type.Level-1-ir.PolyDepth(len(c)-1))
		}
		if feed.bootstrap {
			lvl = -1 // the polynomial runs after a bootstrap: only G <= 1 is checked
		}
		modulus := math.Inf(1)
		if lvl >= 0 {
			modulus = 1
			for _, q := range l.f.Moduli()[:lvl+1] {
				modulus *= float64(q)
			}
		}
		if dirty := low.layoutDense(in, w, false); dirty.cost() < dl.cost() &&
			dirty.partialSumsSafe(in, w, b.Data, feed, modulus, l.delta, l.slots) {
			dl = dirty
		}
	}
	sign, folds, diagAt, out := dl.sign, dl.folds, dl.diagAt, dl.out
	// One ckks.linear: the runtime evaluates it baby-step giant-step with
	// the baby rotations hoisted and the products accumulated before any
	// key switch is finished (Lattigo's double hoisting).
	n1 := dl.n1
	args := []*ir.Value{x}
	var offsets []int64
	for _, i := range dl.nz {
		d, _ := diagAt(i, sign)
		pt, err := l.encode(fmt.Sprintf("%s.diag%d", hint, i), spread(d, unit), x.Type.Level, l.delta)
		if err != nil {
			return nil, err
		}
		args = append(args, pt)
		offsets = append(offsets, int64(sign*i*dl.lp.step()*low.batch))
	}
	var acc *ir.Value
	if len(offsets) > 0 {
		var err error
		acc, err = l.f.Append("ckks.linear", hint+".lin", map[string]ir.Attr{"offsets": offsets, "n1": int64(n1 * low.batch)}, args...)
		if err != nil {
			return nil, err
		}
	}
	if acc == nil { // W == 0: y = 0*x
		zero, err := l.encode(hint+".zero", []float64{0}, x.Type.Level, l.delta)
		if err != nil {
			return nil, err
		}
		if acc, err = l.f.Append("ckks.mul_plain", hint+".prod", nil, x, zero); err != nil {
			return nil, err
		}
	}
	for _, k := range folds {
		r, err := low.rotate(acc, k, hint+".fold")
		if err != nil {
			return nil, err
		}
		if acc, err = l.add(acc, r, hint+".fold"); err != nil {
			return nil, err
		}
	}
	res := acc
	if nonZero(b.Data) {
		pt, err := l.encode(hint+".bias", spread(place(out, b.Data), unit), acc.Type.Level, acc.Type.Scale)
		if err != nil {
			return nil, err
		}
		if res, err = l.f.Append("ckks.add_plain", hint, nil, acc, pt); err != nil {
			return nil, err
		}
	}
	if unit > 1 { // back to slot units
		switch out.Block {
		case 0:
			out = ir.Layout{Len: m, Period: out.Period * unit, Batch: l.batch, Block: 1, Stride: unit}
		case 1:
			out = ir.Layout{Len: m, Period: out.Period * unit, Batch: l.batch, Block: 1, Stride: out.Stride * unit}
		default:
			return nil, fmt.Errorf("linear %%%s: blocked output on a lattice input", hint)
		}
	}
	return l.relayout(res, out, []int{1, m})
}

// isLattice reports whether a layout puts element e at e*Stride (Block 1,
// Stride a power of two dividing the period): the output of strided rows.
func isLattice(l ir.Layout) bool {
	return l.Block == 1 && l.Stride > 1 && l.Stride&(l.Stride-1) == 0 && l.Period%l.Stride == 0 && l.Positions == ""
}

// spread puts v[u] at position u*unit of a vector unit times longer (zeros
// between): a lattice-unit vector in slot units.
func spread(v []float64, unit int) []float64 {
	if unit == 1 {
		return v
	}
	out := make([]float64, len(v)*unit)
	for u, x := range v {
		out[u*unit] = x
	}
	return out
}

// place lays values out in a period of a layout (zeros elsewhere).
func place(l ir.Layout, v []float64) []float64 {
	out := make([]float64, l.Period)
	for e, x := range v {
		out[l.Pos(e)] = x
	}
	return out
}

// relayout re-types a value's layout: the ops above compute the new layout's
// slots, but the type rules propagate the operand's layout.
func (l *lowerer) relayout(v *ir.Value, lay ir.Layout, shape []int) (*ir.Value, error) {
	v.Type.Layout = lay
	v.Type.Shape = shape
	return v, nil
}

// elementwise lowers mul/add/sub with a constant or a second ciphertext.
func (l *lowerer) elementwise(op *ir.Op, x *ir.Value, ct map[*ir.Value]*ir.Value) (*ir.Value, error) {
	r := op.Result()
	other := op.Args[1]
	if y := ct[other]; y != nil {
		if !sameShape(op.Args[0].Type.Shape, other.Type.Shape) {
			return nil, fmt.Errorf("%s %%%s: broadcasting between encrypted operands %v and %v is not supported", op.Code, r.Name, op.Args[0].Type.Shape, other.Type.Shape)
		}
		if x.Type.Layout != y.Type.Layout {
			// slot-wise ops need both operands in one layout
			return nil, fmt.Errorf("%s %%%s: operands in different slot layouts (%v and %v)", op.Code, r.Name, x.Type.Layout, y.Type.Layout)
		}
		if op.Code != "mul" {
			return l.f.Append("ckks."+op.Code, r.Name, nil, x, y)
		}
		// relinearize at once: rotations and further products need degree 1
		m, err := l.f.Append("ckks.mul", r.Name, nil, x, y)
		if err != nil {
			return nil, err
		}
		return l.f.Append("ckks.relin", r.Name, nil, m)
	}
	k := constOf(l.f, other)
	if k == nil {
		return nil, fmt.Errorf("%s %%%s: operand %%%s is neither encrypted nor constant", op.Code, r.Name, other.Name)
	}
	if !sameShape(r.Type.Shape, op.Args[0].Type.Shape) {
		return nil, fmt.Errorf("%s %%%s: a constant operand may not broadcast the encrypted one (%v to %v)", op.Code, r.Name, op.Args[0].Type.Shape, r.Type.Shape)
	}
	var vec []float64
	if len(k.Data) == 1 {
		vec = []float64{k.Data[0]}
	} else {
		full, err := broadcastTo(k, r.Type.Shape)
		if err != nil {
			return nil, err
		}
		vec = place(x.Type.Layout, full)
	}
	switch op.Code {
	case "mul":
		pt, err := l.encode(r.Name+".c", vec, x.Type.Level, l.delta)
		if err != nil {
			return nil, err
		}
		return l.f.Append("ckks.mul_plain", r.Name, nil, x, pt)
	default:
		if op.Code == "sub" {
			for i := range vec {
				vec[i] = -vec[i]
			}
		}
		pt, err := l.encode(r.Name+".c", vec, x.Type.Level, x.Type.Scale)
		if err != nil {
			return nil, err
		}
		return l.f.Append("ckks.add_plain", r.Name, nil, x, pt)
	}
}

func nonZero(v []float64) bool {
	for _, x := range v {
		if x != 0 {
			return true
		}
	}
	return false
}

// polyReaching marks the values whose (elementwise, affine) descendants
// reach a polynomial before another dense layer: such values must be
// bounded in every slot (see lowerer.clean).
func polyReaching(f *ir.Func) map[*ir.Value]bool {
	users := f.Users()
	memo := map[*ir.Value]bool{}
	var reach func(v *ir.Value) bool
	reach = func(v *ir.Value) bool {
		if r, ok := memo[v]; ok {
			return r
		}
		memo[v] = true // conservative while visiting
		r := false
		for _, u := range users[v] {
			switch u.Code {
			case "linear":
				// a dense layer reads valid positions only
			case "poly":
				r = true
			default:
				r = r || reach(u.Result())
			}
		}
		memo[v] = r
		return r
	}
	for _, op := range f.Ops {
		if len(op.Results) == 1 {
			reach(op.Result())
		}
	}
	return memo
}
