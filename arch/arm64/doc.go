// Package arm64 is the ir front end for ARM64 (A64) machine code. It lifts
// each 32-bit instruction word into one or more ir.Insn.
//
// The decoder works from the encoding itself, class by class (data
// processing immediate and register, loads and stores, branches and system,
// SIMD&FP), without golang.org/x/arch/arm64/arm64asm: the fields the engine
// needs are few, the instruction width is fixed, and arm64asm does not know
// the LSE atomics, ldapr, the PAC branches, hvc/smc, sys/ic/at or udf
// (dependencies.md §2). A test compares the lift with arm64asm on the
// corpus and on random words: every word arm64asm decodes must decode here,
// and every general-purpose register arm64asm names as a destination must
// be written by the lift.
//
// # Registers
//
// X0..X30 are 0..30 and SP is 31 (w registers name the same numbers). The
// encoding's register 31 is SP or the zero register depending on the
// instruction and the operand: the zero register reads as the constant 0
// (ir.I(0)) and a write to it is dropped (cmp, cmn, tst, mov wzr, …: a Nop
// when nothing else is written). Every write zero-extends: a w-register
// result is Width 4, ZeroExtend; an x-register one Width 8. Flags, the
// SIMD&FP registers and system registers are not numbered.
//
// The calling convention (ir.Arch): pointers of 8 bytes, arguments in
// x0..x7 then on the stack from SP at the call (StackArgOffset 0) and at a
// function's entry (EntryStackArgOffset 0, there is no return address on
// the stack), the result in x0, x0..x18 and x30 caller-saved (x18 is the
// platform register: in the kernel it points to the KPCR, which the engine
// never knows, so loads through it are unknown).
//
// # Conventions of the lifted form
//
//   - Immediates are given at the operation's width: masked to 32 bits for
//     w registers.
//   - adr and adrp are the address of a global, A(Mem{Global: true, Disp:
//     rva}) (adrp: the 4 KB page of the pc plus imm<<12); literal loads
//     (ldr x, label; ldrsw) load from M(Mem{Global: true}). An address
//     outside the image stays absolute (Global false, Disp the address).
//   - movk is (Rd & ^(0xffff<<shift)) | imm<<shift: two Assigns, exact for
//     known bits. movn is the inverted constant.
//   - A shifted-register operand (orr x0, x1, x2, lsl #8) is computed into
//     Rd first, then combined with Rn: Rd = shift(Rm); Rd = Rn op Rd. When Rd
//     is also Rn that is not expressible; then add with lsl #0..7 becomes
//     the address computation A(Mem{Base: Rn, Index: Rm, Scale: 1<<s}), and
//     anything else makes Rd unknown. Extended-register operands (uxtb,
//     sxtw, …) work the same way (the extension is an and-mask or an
//     OpSext). ror is not expressible: Rd unknown.
//   - The engine shifts arithmetically at 64 bits, so a 32-bit asr (and
//     asr, sbfx, sbfiz in general) is a sign extension to 64 bits, a 64-bit
//     shift, and a truncation (Width 4). ubfm/sbfm aliases (lsl, lsr, asr,
//     ubfx, ubfiz, sbfx, sbfiz, uxtb, uxth, sxtb, sxth, sxtw) are exact in
//     one to three Assigns. bfc is exact; bfi/bfxil clear the field and make
//     each of its bits (up to 3) a select of 0 or 1, leaving the other bits
//     of Rd known; wider fields, or Rd == Rn, make Rd unknown.
//   - Register shift counts (lslv, lsrv, asrv): a 64-bit count is used as
//     the engine takes it (modulo 64, as the hardware does); a 32-bit count
//     is masked to 5 bits into Rd first when Rd is not Rn (otherwise counts
//     32..63, undefined in C, are taken modulo 64); 32-bit asrv and rorv make
//     Rd unknown.
//   - Conditional selects are ir.OpSelect of the two candidates: csel of Rn
//     and Rm; csinc of Rn and Rm+1 (an address computation A(Mem{Base: Rm,
//     Disp: 1}), so cset is a select of 0 and 1 and cinc needs no
//     intermediate); csinv/csneg compute ~Rm or -Rm into Rd first (csetm is a
//     select of 0 and all ones), Rd unknown when Rd is Rn.
//   - madd/msub (mul, mneg) are exact unless Ra is Rd; the widening and
//     high multiplies, divisions, adc/sbc, rbit/rev/clz/cls, crc32 and the
//     PAC data instructions make Rd unknown. extr is exact for lsb 0 only.
//   - Loads: ldr/ldur/ldtr/ldar/ldxr/ldapr/ldapur/ldraa give Rt = M(mem)
//     with SrcWidth the access size; ldrsb/ldrsh/ldrsw are OpSext. ldp loads
//     two registers (a base register that is also loaded is loaded last).
//     Pre- and post-indexed forms emit the access, then the base update Rn
//     = Rn + imm (post-indexed addresses use the old base). A load into its
//     own base register with writeback is unpredictable: the register
//     becomes unknown.
//   - Register-offset addresses are Mem{Base: Rn, Index: Rm, Scale: 1 or
//     the access size}. A 32-bit index (uxtw, sxtw) is taken as the full
//     register: where the two differ the address differs by a nonzero
//     multiple of 2^32, far from the image and the stack frame.
//   - Stores: str/stur/sttr/stlr/stp store the register (the zero register
//     stores I(0)). Stores of SIMD&FP registers, store-exclusives (which may
//     fail), the LSE atomics and compare-and-swap store an unknown value
//     (A of kind KNone); st1..st4 store unknown bytes at [Rn]. A
//     store-exclusive's status register is a select of 0 and 1; the atomics'
//     Rt (the old value) and cas's Rs are unknown; ldapr is a load.
//   - Control transfer (always the last Insn of a word; Len 4 on it): bl is
//     a Call and b a Jump to the RVA rva+imm (negative below the image);
//     blr/blraa* a Call and br/braa* a Jump through the register (Target
//     R(n), or KNone for the zero register); b.cond, cbz/cbnz and tbz/tbnz
//     are Branches; ret and retaa/retab are Ret. brk and udf are Halt, except
//     the Windows breakpoints brk #0xF001 (assertion: a Nop) and #0xF002
//     (debug service: x0..x17 unknown); hlt, eret, drps, dcps and tcancel are
//     Halt.
//   - System: svc/hvc/smc make x0..x17 unknown (a hypervisor or monitor
//     call may return values in any of them); mrs, sysl and tstart make Rt
//     unknown; msr, sys (dc, ic, at, tlbi), barriers and pstate writes are
//     Nops. Hints are Nops (nop, yield, wfe, wfi, bti, csdb, …) except the
//     pointer-authentication hints, which change the register they sign:
//     paciasp/autiasp/pac*z/aut*z/xpaclri make x30 unknown, pac*1716/aut*1716
//     x17, chkfeat x16.
//   - SIMD&FP: only the conversions to a general-purpose register (fcvt*,
//     fmov, fjcvtzs, fixed-point fcvtz*) and smov/umov write one: Rd
//     unknown. Everything else in the group is a Nop: the group is not
//     validated (an unallocated word there is a Nop too), so that the SIMD
//     extensions arm64asm lacks (SHA3, SM3/SM4, FP16 FMLAL, RDM, BF16, I8MM)
//     do not end a path.
//   - Clobber.Regs slices are shared and read-only (cut to their length).
//   - Unallocated words, SVE, SME, memory tagging and the memory copy/set
//     instructions are a *DecodeError; fewer than 4 bytes are ErrTruncated.
//     Nothing is appended then.
package arm64
