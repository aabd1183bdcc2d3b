package cuda

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/fhec/fhec/plan"
	"github.com/fhec/fhec/plan/planpb"
	rt "github.com/fhec/fhec/runtime/cuda"
)

// mlpPlan is a small two-layer plan: x -> rotations + plaintext products ->
// rescale -> square -> relinearize -> rescale -> output.
func mlpPlan() *planpb.Plan {
	p := &planpb.Plan{
		Params: &planpb.Params{LogN: 10, Q: []uint64{1, 2, 3, 4}, P: []uint64{5}},
		Inputs: []*planpb.Input{{Value: 0, Level: 3}},
	}
	next := uint32(1)
	emit := func(op planpb.Op, args ...uint32) uint32 {
		ins := &planpb.Instruction{Op: op, Args: args, Result: next, Offset: 1, Level: 3}
		p.Program = append(p.Program, ins)
		next++
		return ins.Result
	}
	acc := uint32(0)
	for range 4 {
		pt := emit(planpb.Op_ENCODE)
		r := emit(planpb.Op_ROTATE, acc)
		m := emit(planpb.Op_MUL_PLAIN, r, pt)
		acc = emit(planpb.Op_ADD, acc, m)
	}
	acc = emit(planpb.Op_RESCALE, acc)
	sq := emit(planpb.Op_MUL, acc, acc)
	rl := emit(planpb.Op_RELINEARIZE, sq)
	out := emit(planpb.Op_RESCALE, rl)
	bias := emit(planpb.Op_ENCODE)
	out = emit(planpb.Op_ADD_PLAIN, out, bias)
	p.Outputs = []*planpb.Output{{Value: out}}
	p.NumValues = next
	return p
}

// checkLiveness: no two values live at the same time share a buffer, and
// every buffer is large enough for each of its values.
func checkLiveness(t *testing.T, p *planpb.Plan, s *Schedule) {
	t.Helper()
	def := map[uint32]int{}
	last := map[uint32]int{}
	for _, in := range p.Inputs {
		def[in.Value] = -1
	}
	for pc, ins := range p.Program {
		def[ins.Result] = pc
		for _, a := range ins.Args {
			last[a] = pc
		}
	}
	for _, o := range p.Outputs {
		last[o.Value] = len(p.Program)
	}
	for v, b := range s.ValueBuffer {
		for w, c := range s.ValueBuffer {
			if v == w || b != c {
				continue
			}
			// v defined first: w must be defined after v's last use.
			if def[v] < def[w] && def[w] <= last[v] {
				t.Errorf("values %d (live %d..%d) and %d (defined at %d) share buffer %d", v, def[v], last[v], w, def[w], b)
			}
		}
	}
}

func TestScheduleSmallMLP(t *testing.T) {
	p := mlpPlan()
	s, err := Build(p)
	if err != nil {
		t.Fatal(err)
	}
	checkLiveness(t, p, s)
	if len(s.Buffers) >= s.NaiveBuffers {
		t.Errorf("memory plan uses %d buffers for %d ciphertext values: no reuse", len(s.Buffers), s.NaiveBuffers)
	}
	if s.Words()-s.ScratchWords >= s.NaiveWords {
		t.Errorf("memory plan: %d words, naive %d", s.Words()-s.ScratchWords, s.NaiveWords)
	}
	t.Log(s.Summary())
	for _, st := range s.Steps {
		switch st.Op {
		case planpb.Op_MUL_PLAIN:
			if len(st.Launches) != 1 || st.Launches[0].Kernel != rt.KMulPlain {
				t.Errorf("MUL_PLAIN: %+v, want one fused mul_plain launch", st.Launches)
			}
		case planpb.Op_MUL:
			if st.Degree != 2 || st.Launches[0].Kernel != rt.KTensor {
				t.Errorf("MUL: degree %d, %+v", st.Degree, st.Launches)
			}
		case planpb.Op_RESCALE:
			n := 0
			for _, l := range st.Launches {
				n += l.Count
			}
			// Per polynomial: logN INTT stages + prep + logN NTT stages + finish.
			if want := (st.Degree + 1) * (2*10 + 2); n != want {
				t.Errorf("RESCALE: %d launches, want %d", n, want)
			}
		case planpb.Op_ROTATE, planpb.Op_RELINEARIZE:
			// One P prime: nl one-limb digits, each decompose + 10 NTT
			// stages + dot, after the 10-stage INTT; ModDown of two
			// polynomials; ROTATE ends with two automorphisms.
			nl := st.Level + 1
			want := 10 + nl*(12) + 2*(10+1+10+1)
			if st.Op == planpb.Op_ROTATE {
				want += 2
			}
			n := 0
			for _, l := range st.Launches {
				n += l.Count
			}
			if n != want {
				t.Errorf("%v at level %d: %d launches, want %d", st.Op, st.Level, n, want)
			}
		}
	}
	if len(s.Missing) != 0 {
		t.Errorf("missing kernels %v", s.Missing)
	}
	Attach(p, s)
	if !strings.Contains(p.Metadata.Properties["cuda.schedule"], "MUL_PLAIN") {
		t.Error("schedule not attached")
	}
}

// TestScheduleGoldenPlan: the committed small plan schedules, with reuse.
func TestScheduleGoldenPlan(t *testing.T) {
	p, err := plan.ReadFile(filepath.Join("..", "..", "plan", "testdata", "small.plan"))
	if err != nil {
		t.Skip(err)
	}
	s, err := Build(p)
	if err != nil {
		t.Fatal(err)
	}
	checkLiveness(t, p, s)
	t.Log(s.Summary())
	if s.NaiveBuffers > 2 && len(s.Buffers) >= s.NaiveBuffers {
		t.Errorf("no buffer reuse: %d buffers for %d values", len(s.Buffers), s.NaiveBuffers)
	}
}

func TestScheduleErrors(t *testing.T) {
	p := mlpPlan()
	p.Program[1].Args = []uint32{99}
	if _, err := Build(p); err == nil {
		t.Error("out-of-range argument accepted")
	}
	if _, err := Build(&planpb.Plan{}); err == nil {
		t.Error("plan without params accepted")
	}
}

// TestScheduleLinear: LINEAR is scheduled on the kernels (no host step):
// P·c0 and P·c1, one hoisted decomposition, per non-zero baby step a key
// product and an automorphism, one product per diagonal, per non-zero
// giant step a ModDown and a key switch, one accumulation per giant step,
// and the final ModDown of both polynomials. (The emulation test
// TestExecutorMLP checks the schedule against the launches that ran.)
func TestScheduleLinear(t *testing.T) {
	p := &planpb.Plan{
		Params: &planpb.Params{LogN: 10, Q: []uint64{1, 2, 3, 4}, P: []uint64{5}},
		Inputs: []*planpb.Input{{Value: 0, Level: 3}},
	}
	var args []uint32
	offsets := []int64{0, 1, 2, 3, -1, 6}
	for i := range offsets {
		p.Program = append(p.Program, &planpb.Instruction{Op: planpb.Op_ENCODE, Result: uint32(1 + i), Level: 3})
		args = append(args, uint32(1+i))
	}
	res := uint32(1 + len(offsets))
	p.Program = append(p.Program, &planpb.Instruction{Op: planpb.Op_LINEAR, Args: append([]uint32{0}, args...), Offsets: offsets, N1: 2, Result: res})
	p.Outputs = []*planpb.Output{{Value: res}}
	p.NumValues = res + 1
	s, err := Build(p)
	if err != nil {
		t.Fatal(err)
	}
	if s.HostSteps != 0 || len(s.Missing) != 0 {
		t.Fatalf("host steps %d, missing %v", s.HostSteps, s.Missing)
	}
	st := s.Steps[len(s.Steps)-1]
	count := map[string]int{}
	for _, l := range st.Launches {
		count[l.Kernel] += l.Count
	}
	// slots 512, n1 2: giants {0, 2, 6, 510}, babies {0, 1}; 4 limbs, one
	// P prime: 4 digits per decomposition.
	const logN, nl, dnum = 10, 4, 4
	want := map[string]int{
		rt.KMulScalarMont:   2,
		rt.KLinearMAC:       6,
		rt.KLinearGiant:     1 + 4,
		rt.KKeySwitchDot:    dnum * (1 + 3),
		rt.KDecomposeCopy:   dnum * (1 + 3),
		rt.KModDownExt:      3 + 2,
		rt.KModDownFinish:   3 + 2,
		rt.KNTTInverseStage: logN * (1 + 3 + 3 + 2),
		rt.KNTTForwardStage: logN * (dnum*(1+3) + 3 + 2),
	}
	for k, n := range want {
		if count[k] != n {
			t.Errorf("%s: %d launches, want %d", k, count[k], n)
		}
	}
	if len(count) != len(want) {
		t.Errorf("launches %v, want %v", count, want)
	}
	if s.ScratchWords == 0 || st.Level != nl-1 || st.Degree != 1 {
		t.Errorf("scratch %d, level %d, degree %d", s.ScratchWords, st.Level, st.Degree)
	}
}
