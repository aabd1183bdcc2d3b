package ir

import "fmt"

func init() {
	def(OpInfo{Name: "ckks.bootstrap", Level: CKKSLevel, MinArgs: 1, MaxArgs: 1, Infer: inferBootstrap,
		Doc: "refresh a degree-1 ciphertext (values in [-1, 1]) to level bootstrap_level (function attribute) at scale 2^log_scale"})
}

// BootstrapLevel is the level ckks.bootstrap results are at (function
// attribute bootstrap_level, set by parameter selection), or -1.
func (f *Func) BootstrapLevel() int {
	if v, ok := f.Attrs["bootstrap_level"].(int64); ok {
		return int(v)
	}
	return -1
}

func inferBootstrap(f *Func, op *Op) ([]Type, error) {
	a := op.Args[0]
	if err := cipher(a, "operand"); err != nil {
		return nil, err
	}
	if a.Type.Degree != 1 {
		return nil, fmt.Errorf("bootstrap needs a relinearized ciphertext")
	}
	level := f.BootstrapLevel()
	if level < 0 {
		return nil, fmt.Errorf("bootstrap without bootstrapping parameters (function attribute bootstrap_level)")
	}
	logScale, ok := f.Attrs["log_scale"].(int64)
	if !ok {
		return nil, fmt.Errorf("bootstrap without function attribute log_scale")
	}
	t := a.Type
	t.Level = level
	t.Scale = float64(uint64(1) << uint(logScale))
	return []Type{t}, nil
}
