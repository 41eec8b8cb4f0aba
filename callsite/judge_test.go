package callsite

import (
	"testing"

	"github.com/hvcicheck/hvcicheck/dataflow"
)

func TestJudge(t *testing.T) {
	tests := []struct {
		name     string
		rule     Rule
		v        dataflow.Value
		exec     bool
		definite bool
		example  uint64
		unres    bool
	}{
		{"NonPagedPool", RulePoolType, dataflow.Const(0), true, true, 0, false},
		{"NonPagedPoolNx", RulePoolType, dataflow.Const(0x200), false, false, 0, false},
		{"PagedPool", RulePoolType, dataflow.Const(1), false, false, 0, false},
		{"zeroed NonPagedPool", RulePoolType, dataflow.Const(0x400), true, true, 0x400, false},
		{"raise|cacheAligned", RulePoolType, dataflow.Const(0x14), true, true, 0x14, false},
		{"session nx", RulePoolType, dataflow.Const(0x220), false, false, 0, false},
		{"session", RulePoolType, dataflow.Const(0x20), true, true, 0x20, false},
		{"paged|zero", RulePoolType, dataflow.Const(0x401), false, false, 0, false},
		{"branch", RulePoolType, dataflow.Consts(0, 0x200), true, false, 0, false},
		{"select bit 9", RulePoolType, dataflow.Bits(^uint64(0x200), 0), true, false, 0, false},
		{"unknown", RulePoolType, dataflow.Unknown, false, false, 0, true},
		{"pool2 execute", RulePoolFlags, dataflow.Const(0x80), true, true, 0x80, false},
		{"pool2 nx", RulePoolFlags, dataflow.Const(0x40), false, false, 0, false},
		{"lookaside 0", RuleLookasideFlags, dataflow.Const(0), true, true, 0, false},
		{"lookaside nx", RuleLookasideFlags, dataflow.Const(0x200), false, false, 0, false},
		{"PAGE_EXECUTE_READWRITE", RuleProtection, dataflow.Const(0x40), true, true, 0x40, false},
		{"PAGE_READWRITE|NOCACHE", RuleProtection, dataflow.Const(0x204), false, false, 0, false},
		{"normal priority", RuleMdlPriority, dataflow.Const(0x10), true, true, 0x10, false},
		{"priority|NoExecute", RuleMdlPriority, dataflow.Const(0x40000010), false, false, 0, false},
	}
	for _, tt := range tests {
		v := judge(tt.rule, tt.v)
		if v.exec != tt.exec || (tt.exec && (v.definite != tt.definite || v.example != tt.example)) || v.unresolved != tt.unres {
			t.Errorf("%s: got %+v, want exec=%v definite=%v example=%#x unresolved=%v", tt.name, v, tt.exec, tt.definite, tt.example, tt.unres)
		}
	}
}

func TestTagText(t *testing.T) {
	if got := tagText(0x484d454d); got != "MEMH" {
		t.Errorf("tagText = %q, want MEMH", got)
	}
	if got := tagText(0x0100_4142); got != `BA\x00\x01` {
		t.Errorf("tagText = %q", got)
	}
}
