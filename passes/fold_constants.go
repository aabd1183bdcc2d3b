package passes

import (
	"fmt"

	"github.com/fhec/fhec/ir"
)

// FoldConstants evaluates every tensor-level op whose operands are all
// constant (not secret) with the reference interpreter and replaces it by a
// const op.
//
// Requires: tensor-level IR.
// Guarantees: every remaining non-const op has at least one secret operand;
// values are bit-identical to the interpreter's.
type FoldConstants struct{}

func (FoldConstants) Name() string { return "fold-constants" }

func (FoldConstants) Run(f *ir.Func, c *Context) error {
	for i := 0; i < len(f.Ops); i++ {
		op := f.Ops[i]
		if op.Code == "const" || ir.Ops[op.Code].Level != ir.TensorLevel || len(op.Args) == 0 || len(op.Results) != 1 {
			continue
		}
		allConst := true
		for _, a := range op.Args {
			if constOf(f, a) == nil {
				allConst = false
			}
		}
		if !allConst {
			continue
		}
		// Evaluate the op alone in a scratch function sharing the pool.
		g := ir.NewFunc("fold")
		g.Consts, g.Attrs = f.Consts, f.Attrs
		var args []*ir.Value
		for _, a := range op.Args {
			v, err := g.Append("const", a.Name, a.Def.Attrs)
			if err != nil {
				return err
			}
			args = append(args, v)
		}
		r, err := g.Append(op.Code, "out", op.Attrs, args...)
		if err != nil {
			return fmt.Errorf("folding %%%s = %s: %w", op.Result().Name, op.Code, err)
		}
		g.Results = []*ir.Value{r}
		out, err := ir.Interpret(g, nil)
		if err != nil {
			return fmt.Errorf("folding %%%s = %s: %w", op.Result().Name, op.Code, err)
		}
		k := f.AddConst(op.Result().Name, out[0].Shape, out[0].Data)
		op.Code = "const"
		op.Args = nil
		op.Attrs = map[string]ir.Attr{"const": k.Name}
	}
	f.RemoveDead()
	return nil
}
