//go:build cudaemu

package emu

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/tuneinsight/lattigo/v5/he/hefloat"
	"google.golang.org/protobuf/proto"

	"github.com/fhec/fhec"
	backend "github.com/fhec/fhec/backend/cuda"
	"github.com/fhec/fhec/internal/onnxbuild"
	"github.com/fhec/fhec/plan"
	"github.com/fhec/fhec/plan/planpb"
	"github.com/fhec/fhec/runtime"
	"github.com/fhec/fhec/runtime/cuda"
)

// compileMLP compiles a small random MLP with insecure test parameters.
func compileMLP(t testing.TB, sizes []int, act string, batch int) *planpb.Plan {
	t.Helper()
	m, err := onnxbuild.RandomMLP(5, sizes, act)
	must(t, err)
	c, err := fhec.Compile(m, fhec.CompileOptions{Insecure: true, Batch: batch})
	must(t, err)
	return c.Plan
}

// cpuAndGPU encrypts samples for p, evaluates them with the CPU runtime
// and with the executor on the emulated device, and returns both outputs.
func cpuAndGPU(t *testing.T, p *planpb.Plan, samples int) (cpu, gpu []byte, st *cuda.ExecStats, dev *Device) {
	t.Helper()
	rc, err := runtime.NewContext(p)
	must(t, err)
	sk, evk, err := rc.KeyGen()
	must(t, err)
	rng := rand.New(rand.NewPCG(3, 4))
	x := make([][]float64, samples)
	for s := range x {
		x[s] = make([]float64, p.Inputs[0].Layout.Len)
		for j := range x[s] {
			x[s][j] = 2*rng.Float64() - 1
		}
	}
	in, err := rc.Encrypt(sk, [][][]float64{x})
	must(t, err)
	want, _, err := rc.Evaluate(evk, in, runtime.EvalOptions{Workers: 1})
	must(t, err)
	dev = New()
	t.Cleanup(func() { dev.Close() })
	got, st, err := cuda.Evaluate(dev, rc, evk, in)
	must(t, err)
	if n := dev.Live(); n != 0 {
		t.Errorf("%d device allocations leaked", n)
	}
	cpu, err = want.MarshalBinary()
	must(t, err)
	gpu, err = got.MarshalBinary()
	must(t, err)
	// The decrypted GPU result is the CPU one (a readable failure first).
	a, err := rc.Decrypt(sk, want)
	must(t, err)
	b, err := rc.Decrypt(sk, got)
	must(t, err)
	for o := range a {
		for s := range a[o] {
			for j := range a[o][s] {
				if a[o][s][j] != b[o][s][j] {
					t.Fatalf("output %d sample %d value %d: GPU %g, CPU %g", o, s, j, b[o][s][j], a[o][s][j])
				}
			}
		}
	}
	return cpu, gpu, st, dev
}

// TestExecutorMLP: a square-activation MLP compiled by fhec runs on the
// kernels instruction by instruction (its x^2 is MUL + RELINEARIZE, its
// dense layers LINEAR, ROTATE, ADD, ADD_PLAIN, RESCALE), nothing on the
// host, and the output
// ciphertext file is byte for byte the CPU runtime's; in throughput mode
// (one group, hoisted rotations on the CPU) and latency mode (batch 1,
// two groups).
func TestExecutorMLP(t *testing.T) {
	for _, tc := range []struct {
		name           string
		batch, samples int
	}{{"throughput", 0, 3}, {"latency", 1, 2}} {
		t.Run(tc.name, func(t *testing.T) {
			p := compileMLP(t, []int{8, 6, 4}, "square", tc.batch)
			cpu, gpu, st, _ := cpuAndGPU(t, p, tc.samples)
			if !bytes.Equal(cpu, gpu) {
				t.Fatalf("GPU output (%d bytes) differs from the CPU runtime's (%d bytes)", len(gpu), len(cpu))
			}
			// The work really ran on the kernels: every instruction (POLY
			// excepted, and this plan has none), LINEAR and key switches
			// included; nothing on the host.
			b := int(p.Inputs[0].Layout.Batch)
			kernelOps(t, p, st, (tc.samples+b-1)/b)
			for _, op := range []planpb.Op{planpb.Op_LINEAR, planpb.Op_MUL, planpb.Op_RELINEARIZE, planpb.Op_ROTATE, planpb.Op_RESCALE} {
				if st.Instructions[op] == 0 {
					t.Errorf("no %v instruction ran", op)
				}
			}
			for _, k := range []string{cuda.KKeySwitchDot, cuda.KModDownFinish, cuda.KTensor, cuda.KAutomorphismNTT} {
				if st.Launches[k] == 0 {
					t.Errorf("kernel %s never launched", k)
				}
			}
			// The backend's schedule lists exactly the launches that ran.
			sched, err := backend.Build(p)
			must(t, err)
			planned := map[string]int{}
			for _, step := range sched.Steps {
				for _, l := range step.Launches {
					planned[l.Kernel] += l.Count * st.Instructions[step.Op] / max(1, opCount(p, step.Op))
				}
			}
			for _, k := range cuda.Kernels {
				if planned[k] != st.Launches[k] {
					t.Errorf("kernel %s: %d launches, the schedule lists %d", k, st.Launches[k], planned[k])
				}
			}
			if len(sched.Missing) != 0 || sched.HostSteps != 0 {
				t.Errorf("schedule: kernels missing %v, %d host steps", sched.Missing, sched.HostSteps)
			}
			if st.HostPolys != 0 || st.HostLinears != 0 {
				t.Errorf("%d POLY and %d LINEAR steps on the host in an x^2 model, want none", st.HostPolys, st.HostLinears)
			}
			t.Logf("%d P prime(s); instructions %v; %d key-switch inner-product launches", len(p.Params.P), st.Instructions, st.Launches[cuda.KKeySwitchDot])
		})
	}
}

// opCount is the number of op instructions in p's program.
func opCount(p *planpb.Plan, op planpb.Op) int {
	n := 0
	for _, ins := range p.Program {
		if ins.Op == op {
			n++
		}
	}
	return n
}

// kernelOps checks that each instruction of p ran once per group, on the
// kernels unless it is POLY (host): no LINEAR on the host, the linear
// kernels launched when the plan has LINEAR.
func kernelOps(t *testing.T, p *planpb.Plan, st *cuda.ExecStats, groups int) {
	t.Helper()
	want := map[planpb.Op]int{}
	for _, ins := range p.Program {
		if ins.Op != planpb.Op_ENCODE {
			want[ins.Op] += groups
		}
	}
	for op, n := range want {
		if st.Instructions[op] != n {
			t.Errorf("%v ran %d times, the plan has %d (x groups)", op, st.Instructions[op], n)
		}
	}
	if st.HostLinears != 0 {
		t.Errorf("%d LINEAR on the host, want 0 (LINEAR runs on the kernels)", st.HostLinears)
	}
	if n := want[planpb.Op_LINEAR]; n > 0 && (st.Launches[cuda.KLinearMAC] == 0 || st.Launches[cuda.KLinearGiant] == 0 || st.Launches[cuda.KMulScalarMont] < 2*n) {
		t.Errorf("%d LINEAR ran but the linear kernels were not launched (%d MAC, %d giant, %d P-scalar)", n,
			st.Launches[cuda.KLinearMAC], st.Launches[cuda.KLinearGiant], st.Launches[cuda.KMulScalarMont])
	}
}

// TestExecutorOps: a hand-written plan with every kernel op the compiler
// may emit (MUL_PLAIN, SUB, ROTATE by 0 and by several offsets of one
// value, ADD at different levels, MUL + RELINEARIZE + RESCALE) gives the
// CPU runtime's bytes.
func TestExecutorOps(t *testing.T) {
	hp, err := hefloat.NewParametersFromLiteral(hefloat.ParametersLiteral{LogN: 11, LogQ: []int{55, 40, 40, 40}, LogP: []int{61}, LogDefaultScale: 40})
	must(t, err)
	params, err := plan.FromCKKSParameters(hp)
	must(t, err)
	params.Insecure = true
	const scale = float64(1 << 40)
	p := &planpb.Plan{Producer: "cuda executor test", Params: params, Keys: &planpb.KeySet{Relinearization: true}}
	l := &planpb.Layout{Len: 8, Period: 8, Batch: 4}
	n := uint32(0)
	def := func() uint32 { n++; return n - 1 }
	x := def()
	p.Inputs = []*planpb.Input{{Name: "x", Shape: []int64{8}, Layout: l, Value: x, Level: 3, Scale: scale}}
	emit := func(ins *planpb.Instruction) uint32 {
		ins.Result = def()
		p.Program = append(p.Program, ins)
		return ins.Result
	}
	rot := func(v uint32, k int) uint32 {
		if g := hp.GaloisElement(k); g != 1 && !slices.Contains(p.Keys.GaloisElements, g) {
			p.Keys.GaloisElements = append(p.Keys.GaloisElements, g)
			slices.Sort(p.Keys.GaloisElements)
		}
		return emit(&planpb.Instruction{Op: planpb.Op_ROTATE, Args: []uint32{v}, Offset: int64(k)})
	}
	op := func(o planpb.Op, args ...uint32) uint32 { return emit(&planpb.Instruction{Op: o, Args: args}) }
	q3 := float64(hp.Q()[3])
	p.Constants = []*planpb.Constant{{Name: "w", Values: []float64{0.5, -0.25, 1, 0.125, -1, 0.75, 0.3, -0.6}}, {Name: "b", Values: []float64{0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8}}}
	w := emit(&planpb.Instruction{Op: planpb.Op_ENCODE, Constant: 0, Level: 3, Scale: q3, Batch: 4})
	r1, r2, r0 := rot(x, 1), rot(x, -3), rot(x, 0)
	s := op(planpb.Op_ADD, op(planpb.Op_MUL_PLAIN, r1, w), op(planpb.Op_MUL_PLAIN, r2, w))
	s = op(planpb.Op_SUB, s, op(planpb.Op_MUL_PLAIN, r0, w))
	y := op(planpb.Op_RESCALE, s) // level 2, scale 2^40
	bias := emit(&planpb.Instruction{Op: planpb.Op_ENCODE, Constant: 1, Level: 2, Scale: scale, Batch: 4})
	y = op(planpb.Op_ADD_PLAIN, y, bias)
	y = op(planpb.Op_ADD, y, x) // levels 2 and 3
	sq := op(planpb.Op_RESCALE, op(planpb.Op_RELINEARIZE, op(planpb.Op_MUL, y, y)))
	z := op(planpb.Op_MUL, sq, rot(sq, 2))
	z = op(planpb.Op_RESCALE, op(planpb.Op_RELINEARIZE, z))
	p.NumValues = n
	p.Outputs = []*planpb.Output{{Name: "z", Shape: []int64{8}, Layout: l, Value: z}, {Name: "y", Shape: []int64{8}, Layout: l, Value: y}}
	cpu, gpu, st, _ := cpuAndGPU(t, p, 5)
	if !bytes.Equal(cpu, gpu) {
		t.Fatal("GPU output differs from the CPU runtime's")
	}
	kernelOps(t, p, st, 2)
}

// TestExecutorReLU: a ReLU MLP, whose fitted polynomial (POLY) runs on the
// host with Lattigo's polynomial evaluator between kernel steps: still the
// CPU runtime's bytes.
func TestExecutorReLU(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles and evaluates a ReLU MLP")
	}
	p := compileMLP(t, []int{4, 4, 3}, "relu", 0)
	cpu, gpu, st, _ := cpuAndGPU(t, p, 2)
	if !bytes.Equal(cpu, gpu) {
		t.Fatalf("GPU output differs from the CPU runtime's")
	}
	if st.HostPolys == 0 {
		t.Error("no POLY ran on the host")
	}
}

// TestExecutorErrors: missing keys, wrong inputs and bad plans are errors.
func TestExecutorErrors(t *testing.T) {
	p := compileMLP(t, []int{8, 6, 4}, "square", 0)
	dev := New()
	defer dev.Close()
	if _, err := cuda.NewExecutor(dev, p, nil, nil); err == nil || !strings.Contains(err.Error(), "relinearization key") {
		t.Errorf("no relinearization key: %v", err)
	}
	rc, err := runtime.NewContext(p)
	must(t, err)
	sk, evk, err := rc.KeyGen()
	must(t, err)
	in, err := rc.Encrypt(sk, [][][]float64{{make([]float64, 8)}})
	must(t, err)
	out, _, err := rc.Evaluate(evk, in, runtime.EvalOptions{Workers: 1})
	must(t, err)
	if _, _, err := cuda.Evaluate(dev, rc, evk, out); err == nil {
		t.Error("evaluating plan outputs succeeded")
	}
	if _, _, err := cuda.Evaluate(dev, rc, nil, in); err == nil {
		t.Error("evaluating without keys succeeded")
	}
	bad := proto.Clone(p).(*planpb.Plan)
	bad.Program = append([]*planpb.Instruction{{Op: planpb.Op_ADD, Args: []uint32{9999}, Result: 0}}, bad.Program...)
	if _, err := cuda.NewExecutor(dev, bad, nil, nil); err == nil {
		t.Error("an invalid plan was accepted")
	}
	if n := dev.Live(); n != 0 {
		t.Errorf("%d device allocations leaked", n)
	}
}
