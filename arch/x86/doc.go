// Package x86 is the ir front end for x86 machine code: 64-bit x64 and
// 32-bit x86. It decodes with golang.org/x/arch/x86/x86asm, after a small
// opcode table of its own for the instructions x86asm does not know or
// silently mis-sizes (VMX, SVM, CET, endbr64, adcx/adox, …; see special.go),
// and lifts each machine instruction into one or more ir.Insn.
//
// # Registers
//
// The 16 general-purpose registers are numbered as in the encoding: RAX=0,
// RCX=1, RDX=2, RBX=3, RSP=4, RBP=5, RSI=6, RDI=7, R8..R15 = 8..15. On x86 the
// same numbers name eax..edi. Sub-registers map to their full register:
//
//   - 64-bit writes: Width 8, ZeroExtend.
//   - 32-bit writes: Width 4, ZeroExtend (x64 clears the upper half; on x86
//     Width 4 is the whole register).
//   - 16- and 8-bit writes (ax, al, r8w, r8b, spl, …): Width 2 or 1, Merge.
//   - A write to ah/bh/ch/dh cannot be expressed (it is bits 8..15): it is a
//     Clobber of the full register. A read of ah/bh/ch/dh is expressed, where
//     it matters (mov, movzx, movsx), as a shift right by 8 of the full
//     register; elsewhere the result is OpUnknown.
//
// Flags, segment, x87, MMX, XMM/YMM/ZMM, mask, control and debug registers
// are not numbered. An instruction that writes a general-purpose register
// from one of them (movd eax, xmm0; cvttsd2si; pextrw; pmovmskb; mov rax,
// cr0; …) makes that register unknown. The rule throughout is that a GPR
// never keeps a stale value the engine believes: every instruction that is
// not modelled exactly makes the GPRs it writes unknown — its first operand
// when that is a GPR (x86 lists the destination first), and the implicit
// destinations of the instructions that have them (cpuid, rdtsc, rdmsr,
// mul/div, string instructions, …).
//
// # Conventions of the lifted form
//
//   - Immediates are given at the operation's width: for Width < 8 the
//     value is masked to Width bytes (mov eax, -1 gives I(0xffffffff));
//     Width-8 immediates are sign-extended as the hardware does.
//   - A KMem operand loads SrcWidth bytes (the memory operand's size); an
//     instruction has at most one memory operand, so SrcWidth serves A or B.
//   - OpSext's SrcWidth is the width of its input (movsx, movsxd, cbw, cwde,
//     cdqe). movzx from a register is OpAnd with 0xff / 0xffff; movzx from
//     memory is OpMov of the narrow load (a load zero-extends).
//   - Store with A.Kind == KNone stores an unknown value. Read-modify-write
//     instructions on memory (add/or/and/xor/shl/inc/not/… [mem], setcc
//     [mem], cmpxchg, xadd, …) are such unknown stores, except where the
//     result is a constant: `and [mem], 0` stores 0 and `or [mem], -1`
//     stores all ones (MSVC zeroes stack arguments with `and [rsp+x], 0`).
//   - A Store's A may be KMem (push [mem], pop [mem], movs): a memory to
//     memory copy of Width bytes.
//   - Store Width is the number of bytes written, which is 16/32/64 for
//     vector stores. WidthUnknown (255) is a store of unknown extent
//     starting at Mem (rep movs/stos, fxsave, xsave, sgdt): everything from
//     Mem to Mem+255 at least is lost.
//   - Memory addressed through fs: or gs: (the KPCR/TEB) is not memory the
//     engine tracks: a load from it is OpUnknown, a store to it is a Nop, a
//     call or jump through it has a Target of kind KNone (unknown).
//   - rip-relative operands are Mem{Global: true, Disp: RVA}. Absolute
//     addresses (no base, no index: x86 [abs32], moffs) inside [imageBase,
//     imageBase+sizeOfImage) are Global with Disp the RVA; outside the image
//     they stay absolute: Global false, Base and Index RegNone, Disp the
//     address.
//   - Shift counts in a register (shl eax, cl) are given as R(RCX); the
//     hardware takes the count modulo 32 (modulo 64 for 64-bit operands).
//     Immediate counts are given already masked.
//   - push: SP -= size, then Store [SP]. A pushed operand that refers to SP
//     is rewritten to its value before the decrement (push rsp stores
//     A(SP+8); push [rsp+8] loads [SP+16]). pop: dst = [SP], then SP += size
//     (pop rsp is the load alone). `call $+5` (call to the next instruction,
//     the x86 get-pc idiom) is a push of A(Global next) rather than a call.
//   - cmovcc has no select in ir: its destination becomes unknown (Clobber
//     at 32/64 bits, OpUnknown Merge at 16). setcc reg8 is two Assigns:
//     OpUnknown at Width 1 Merge, then And 1 — the engine then knows bits
//     1..7 are zero, which keeps `setcc; movzx; shl` selects precise.
//   - xchg reg, reg is an exchange through three xors (exact for known
//     values); xchg with memory stores the register's value to memory and
//     makes the register unknown. xadd/cmpxchg make their registers unknown.
//   - Control transfer: the Call/Jump/Branch/Ret/Halt Insn is always the
//     last of a machine instruction's sequence; Len is set on the last Insn
//     only, and every Insn of the sequence carries the instruction's Addr.
//     Direct targets are KImm RVAs computed as rva+len+rel in int64 (a
//     target below the image is negative). call/jmp [rip+x] have a KMem
//     Global target; call reg a KReg target; call [reg+disp] a KMem target.
//     Far calls have a KNone target; far jumps, far returns, iret, sysret,
//     sysexit, int3, int 0x29, icebp, ud0/ud1/ud2, hlt and skinit are Halt.
//   - Undecodable bytes, and x86asm's bare one-byte prefix results that the
//     table does not resolve, are an error (no Insn is appended).
package x86
