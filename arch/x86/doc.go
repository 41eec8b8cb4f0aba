// Package x86 is the ir front end for x86 machine code: 64-bit x64 and
// 32-bit x86. It lifts each machine instruction into one or more ir.Insn.
//
// Decoding goes through three stages, first match wins:
//
//  1. special.go: a small opcode table for the instructions x86asm does not
//     know or silently mis-sizes (VMX, SVM, CET, endbr64, adcx/adox, rdseed,
//     rdpid, movdiri, …; dependencies.md §2).
//  2. fast.go: a direct decoder for the encodings that make up most compiled
//     code (mov, lea, push/pop, call/jmp/jcc, ALU, shifts, movzx/movsx,
//     setcc, cmov, ret, nop) with at most a REX prefix, and an operand-size
//     prefix on the 16-bit forms of mov, test and the ALU ops. It does not allocate
//     and is about 5x faster than x86asm; a test checks it against x86asm
//     over the corpus and the fuzzer does the same on random bytes.
//  3. golang.org/x/arch/x86/x86asm for everything else. Its bare one-byte
//     prefix results (its way of failing) are errors, as are VEX/EVEX
//     instructions whose ModRM byte lies past the end of the bytes (x86asm
//     reads a zero ModRM there) and invalid lock prefixes. In 32-bit mode the
//     registers x86asm invents from VEX.vvvv's high bit (r9d) are folded to
//     the ones the processor uses.
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
//     vector stores (movups [rsp+0x20], xmm0 stores an unknown 16 bytes).
//     WidthUnknown (255) is a store of unknown extent starting at Mem (rep
//     movs/stos, fxsave, xsave): everything from Mem to Mem+255 at least is
//     lost.
//   - System instructions: vmcall, vmmcall and vmrun make every register but
//     the stack pointer unknown (a hypervisor may change any); vmlaunch and
//     vmresume fall through only on failure and are Nops; int 0x2c (assertion)
//     is a Nop, other int n make the caller-saved registers unknown;
//     syscall clobbers like a call; swapgs, wrmsr, invlpg, mov cr, cli/sti are
//     Nops.
//   - Memory addressed through fs: or gs: (the KPCR/TEB) is not memory the
//     engine tracks: a load from it is OpUnknown, a store to it is a Nop, a
//     call or jump through it has a Target of kind KNone (unknown).
//   - rip-relative operands are Mem{Global: true, Disp: RVA}. Absolute
//     addresses (no base, no index: x86 [abs32], moffs) inside [imageBase,
//     imageBase+sizeOfImage) are Global with Disp the RVA; outside the image
//     they stay absolute: Global false, Base and Index RegNone, Disp the
//     address. With an index register (x86 jump tables, `[eax*4+table]`)
//     Global cannot be set: Disp stays the absolute virtual address.
//     Displacements are sign-extended (`[ebp+0xffffff00]` is Disp -0x100).
//   - Immediates stay constants, also on x86 where `push offset g` pushes an
//     address: without relocation information a constant that happens to
//     fall inside the image cannot be told from an address. With
//     SetRelocated, a relocated immediate inside the image becomes
//     A(Mem{Global: true, Disp: rva}).
//   - Shift counts in a register (shl eax, cl) are given as R(RCX); the
//     hardware takes the count modulo 32 (modulo 64 for 64-bit operands).
//     Immediate counts are given already masked.
//   - push: SP -= size, then Store [SP]. A pushed operand that refers to SP
//     is rewritten to its value before the decrement (push rsp stores
//     A(SP+8); push [rsp+8] loads [SP+16]). pop: dst = [SP], then SP += size
//     (pop rsp is the load alone). `call $+5` (call to the next instruction,
//     the x86 get-pc idiom) is a push of A(Global next) rather than a call.
//   - cmovcc is an ir.OpSelect of the destination's old value and the
//     source (the engine joins both). `or/and/xor ah..dh, imm` is the same
//     operation on the whole register with the immediate at bits 8..15
//     (gcc ORs POOL_ZERO_ALLOCATION in with `or ch, 4`). setcc reg8 is two Assigns:
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
//   - Clobber.Regs slices are shared and read-only (cut to their length so
//     an append copies).
//   - The direction flag is taken as clear (the Windows ABI): string
//     instructions move rsi/rdi upward. rep movs/stos/ins/outs leave rcx 0
//     and advance rdi/rsi by rcx*size (A(Mem{Base: rdi, Index: rcx, Scale:
//     size}), computed before rcx is zeroed); repe/repne cmps/scas make them
//     unknown.
//   - Undecodable or truncated bytes are an error (*DecodeError or
//     ErrTruncated) and nothing is appended.
package x86
