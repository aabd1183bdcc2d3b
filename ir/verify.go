package ir

import "fmt"

// Verify checks f: every operand is defined before use, names are unique,
// every op is in the table with the right arity, and every result type is
// the one the op's type rule gives. Passes run it after every step.
func Verify(f *Func) error {
	defined := map[*Value]bool{}
	names := map[string]bool{}
	define := func(v *Value) error {
		if v.Name == "" {
			return fmt.Errorf("verify @%s: a value has no name", f.Name)
		}
		if names[v.Name] {
			return fmt.Errorf("verify @%s: %%%s defined twice", f.Name, v.Name)
		}
		names[v.Name] = true
		defined[v] = true
		return nil
	}
	for _, p := range f.Params {
		if p.Def != nil {
			return fmt.Errorf("verify @%s: parameter %%%s has a defining op", f.Name, p.Name)
		}
		if err := define(p); err != nil {
			return err
		}
	}
	for i, o := range f.Ops {
		info, ok := Ops[o.Code]
		if !ok {
			return fmt.Errorf("verify @%s: op %d: unknown op %q", f.Name, i, o.Code)
		}
		if err := info.checkArity(len(o.Args)); err != nil {
			return fmt.Errorf("verify @%s: op %d: %w", f.Name, i, err)
		}
		for j, a := range o.Args {
			if a == nil || !defined[a] {
				n := "<nil>"
				if a != nil {
					n = "%" + a.Name
				}
				return fmt.Errorf("verify @%s: op %d (%s): operand %d %s used before its definition", f.Name, i, o.Code, j, n)
			}
		}
		types, err := info.Infer(f, o)
		if err != nil {
			return fmt.Errorf("verify @%s: op %d (%s -> %%%s): %w", f.Name, i, o.Code, firstName(o), err)
		}
		if len(types) != len(o.Results) {
			return fmt.Errorf("verify @%s: op %d (%s): %d results, type rule gives %d", f.Name, i, o.Code, len(o.Results), len(types))
		}
		for j, r := range o.Results {
			if r.Def != o {
				return fmt.Errorf("verify @%s: %%%s: Def does not point at its op", f.Name, r.Name)
			}
			want := types[j]
			if info.Level == CKKSLevel {
				// Layouts and logical shapes of ckks values are annotations set
				// by layout assignment (a rotate-and-sum changes what the slots
				// mean); the rules derive kind, level, scale and degree.
				want.Layout, want.Shape = r.Type.Layout, r.Type.Shape
			}
			if !r.Type.Equal(want) {
				return fmt.Errorf("verify @%s: %%%s = %s: type %s, the rule gives %s", f.Name, r.Name, o.Code, r.Type, want)
			}
			if err := define(r); err != nil {
				return err
			}
		}
	}
	if len(f.Results) == 0 {
		return fmt.Errorf("verify @%s: no results", f.Name)
	}
	for _, r := range f.Results {
		if !defined[r] {
			return fmt.Errorf("verify @%s: result %%%s is not defined", f.Name, r.Name)
		}
	}
	return nil
}

func firstName(o *Op) string {
	if len(o.Results) == 0 {
		return "?"
	}
	return o.Results[0].Name
}
