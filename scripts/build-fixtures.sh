#!/usr/bin/env bash
# build-fixtures.sh - builds the test driver images in testdata/drivers from
# the C sources in testdata/src. The images are committed, so `go test ./...`
# needs no C toolchain; run this only after changing a source, the headers in
# testdata/include or the .def files in testdata/lib.
#
#   apt-get install clang lld llvm gcc-mingw-w64   (clang 14, binutils 2.40 tested)
#   bash scripts/build-fixtures.sh                 # every case
#   bash scripts/build-fixtures.sh layout_clean    # only the named cases
#
# Output: testdata/drivers/<case>/<toolchain>-<arch>-<opt>.sys, with
#   toolchain  clang (clang + lld-link, MSVC target) or mingw (mingw-w64 gcc + GNU ld)
#   arch       x64, x86, arm64 (arm64 with clang only: there is no mingw-w64 arm64 gcc here)
#   opt        O0, O2 (call-site cases) or O2 only (layout cases)
# Every image keeps its DWARF (.debug_* sections, long names through the COFF
# string table) so tests can map an RVA back to a source line.
#
# The script is idempotent and as deterministic as the tools allow: lld-link
# /Brepro, ld --no-insert-timestamp, SOURCE_DATE_EPOCH=0 for objcopy, relative
# source paths and -fdebug-compilation-dir/-fdebug-prefix-map for DWARF.
# Running it twice gives identical files.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TD=$ROOT/testdata

die() { echo "build-fixtures: $*" >&2; exit 1; }

# ---- tools ---------------------------------------------------------------

CLANG=${CLANG:-clang}
LLD_LINK=${LLD_LINK:-lld-link}
LLVM_DLLTOOL=${LLVM_DLLTOOL:-llvm-dlltool}
LLVM_READOBJ=${LLVM_READOBJ:-llvm-readobj}
MINGW64=${MINGW64:-x86_64-w64-mingw32}
MINGW32=${MINGW32:-i686-w64-mingw32}

missing=()
for t in "$CLANG" "$LLD_LINK" "$LLVM_DLLTOOL" "$LLVM_READOBJ" \
	"$MINGW64-gcc" "$MINGW64-dlltool" "$MINGW64-objcopy" "$MINGW64-ld" \
	"$MINGW32-gcc" "$MINGW32-dlltool" "$MINGW32-objcopy" "$MINGW32-ld"; do
	command -v "$t" >/dev/null 2>&1 || missing+=("$t")
done
if ((${#missing[@]})); then
	die "missing tools: ${missing[*]}
install them with: apt-get install clang lld llvm gcc-mingw-w64"
fi

W=$(mktemp -d "${TMPDIR:-/tmp}/build-fixtures.XXXXXX")
trap 'rm -rf "$W"' EXIT

# Everything is compiled from testdata/ with relative paths, so DWARF names
# the sources src/<case>.c and include/km.h.
cd "$TD"

# ---- import libraries ----------------------------------------------------
# One .def per kernel module, with x86 __stdcall decorations (Name@N).
# 64-bit: the decoration is stripped. x86: kept for the linker's symbol
# (_Name@N) and killed (-k) in the import name, so the image imports "Name".

DLLS=(ntoskrnl hal fltmgr ndis wdfldr)
mkdir -p "$W/lib"
for d in "${DLLS[@]}"; do
	sed -e 's/@[0-9]*$//' "lib/$d.def" >"$W/lib/$d-64.def"
	"$LLVM_DLLTOOL" -m i386:x86-64 -d "$W/lib/$d-64.def" -l "$W/lib/clang-x64-$d.lib"
	"$LLVM_DLLTOOL" -m arm64 -d "$W/lib/$d-64.def" -l "$W/lib/clang-arm64-$d.lib"
	"$LLVM_DLLTOOL" -m i386 -k -d "lib/$d.def" -l "$W/lib/clang-x86-$d.lib"
	# dlltool names its symbols after the output path (_head_<path>): use a
	# fixed relative one so the images do not depend on the temp directory.
	(cd "$W/lib" && "$MINGW64-dlltool" -d "$d-64.def" -l "mingw-x64-$d.a")
	cp "lib/$d.def" "$W/lib/$d-32.def"
	(cd "$W/lib" && "$MINGW32-dlltool" -k -d "$d-32.def" -l "mingw-x86-$d.a")
done

# mingw equivalent of /MERGE:.rdata=.text for the IAT: ld's default script
# with the IAT (.idata$5 between __IAT_start__ and __IAT_end__) moved to the
# end of .text. The import descriptors stay in .idata, where ld finds the
# import directory; the IAT directory comes from __IAT_start__/__IAT_end__.
make_merge_script() { # ld output
	"$1" --verbose | awk '
/^=====/ { inscript = !inscript; next }
!inscript { next }
{ lines[++n] = $0 }
END {
  for (i = 1; i <= n; i++) if (lines[i] ~ /^  \.idata BLOCK/) { s = i; break }
  for (j = s; j <= n; j++) if (lines[j] ~ /^  }/) { e = j; break }
  if (!s || !e) { print "no .idata block in the default linker script" > "/dev/stderr"; exit 1 }
  for (i = 1; i <= n; i++) {
    if (i > s && i < e && lines[i] ~ /__IAT_start__|__IAT_end__|\.idata\$5/) continue
    if (lines[i] ~ /PROVIDE \(etext = \.\);/) {
      for (k = s + 1; k < e; k++) if (lines[k] ~ /__IAT_start__|__IAT_end__|\.idata\$5/) print lines[k]
      found = 1
    }
    print lines[i]
  }
  if (!found) { print "no etext in .text of the default linker script" > "/dev/stderr"; exit 1 }
}' >"$2"
}
make_merge_script "$MINGW64-ld" "$W/lib/mingw-x64-merge-iat.ld"
make_merge_script "$MINGW32-ld" "$W/lib/mingw-x86-merge-iat.ld"

# ---- per-case configuration ----------------------------------------------
# Sets KIND (layout: one optimisation level; callsite: O0 and O2), ENTRY,
# CLANG_LDFLAGS, MINGW_LDFLAGS, MINGW_POST (a function run on the linked
# mingw image) and EXCLUDE (variants not built, each with a reason).

post_init_rwx() { # in out objcopy
	SOURCE_DATE_EPOCH=0 "$3" --set-section-flags INIT=alloc,load,contents,code,debug "$1" "$2"
}

configure() {
	KIND=callsite ENTRY=DriverEntry CLANG_CFLAGS=() CLANG_LDFLAGS=() MINGW_LDFLAGS=() MINGW_POST="" EXCLUDE=()
	case "$1" in
	layout_*) KIND=layout ;;
	esac
	case "$1" in
	layout_text_rwe)
		CLANG_LDFLAGS=(/SECTION:.text,RWE)
		MINGW_LDFLAGS=(-Wl,-N) ;; # --omagic: ld leaves .text writable
	layout_rwx_data)
		CLANG_LDFLAGS=(/SECTION:.rwx,RWE) ;; # clang drops "execute" from #pragma section for data
	layout_init_rwx)
		CLANG_LDFLAGS=(/SECTION:INIT,ERWD)
		MINGW_POST=post_init_rwx ;;
	layout_merge_rdata)
		CLANG_LDFLAGS=(/MERGE:.rdata=.text)
		MINGW_LDFLAGS=(-Wl,-T,@MERGE_SCRIPT@) ;;
	layout_align_200)
		CLANG_LDFLAGS=(/ALIGN:0x200 /FILEALIGN:0x200)
		MINGW_LDFLAGS=(-Wl,--section-alignment,0x200 -Wl,--file-alignment,0x200) ;;
	layout_align_80)
		CLANG_LDFLAGS=(/ALIGN:0x80 /FILEALIGN:0x80)
		MINGW_LDFLAGS=(-Wl,--section-alignment,0x80 -Wl,--file-alignment,0x80) ;;
	callsite_kmdf)
		ENTRY=FxDriverEntry ;; # the WdfDriverEntry.lib-style stub is the entry point
	callsite_cfg)
		# Control Flow Guard checks (the cc1 option behind clang-cl's /guard:cf);
		# HVCI_CFG makes the source define the guard pointers the CRT would.
		CLANG_CFLAGS=(-Xclang -cfguard -DHVCI_CFG) ;;
	esac
}

variants() { # KIND -> toolchain-arch-opt list
	local opts=(O0 O2)
	[[ $KIND == layout ]] && opts=(O2)
	local v o
	for v in clang-x64 clang-x86 clang-arm64 mingw-x64 mingw-x86; do
		for o in "${opts[@]}"; do
			echo "$v-$o"
		done
	done
}

excluded() { # variant
	local e
	for e in "${EXCLUDE[@]+"${EXCLUDE[@]}"}"; do
		[[ $1 == "$e"* ]] && return 0
	done
	return 1
}

# ---- compile and link ----------------------------------------------------

COMMON_CFLAGS=(-std=gnu11 -ffreestanding -fno-stack-protector -Wall -Werror=implicit-function-declaration
	-Wno-unused-variable -Wno-unused-but-set-variable -Iinclude)

build_clang() { # case variant out sources...
	local c=$1 v=$2 out=$3
	shift 3
	local arch=${v#clang-} opt triple machine
	opt=${arch##*-}
	arch=${arch%-*}
	case $arch in
	x64) triple=x86_64-pc-windows-msvc ;;
	x86) triple=i686-pc-windows-msvc ;;
	arm64) triple=aarch64-pc-windows-msvc ;;
	esac
	local objs=() s o
	for s in "$@"; do
		o=$W/obj/$c/$v/$(basename "${s%.c}").obj
		mkdir -p "$(dirname "$o")"
		# -funwind-tables: with DWARF, clang would otherwise emit no .pdata.
		"$CLANG" --target=$triple "${COMMON_CFLAGS[@]}" -funwind-tables -mno-red-zone \
			"${CLANG_CFLAGS[@]+"${CLANG_CFLAGS[@]}"}" \
			-g -gdwarf -fdebug-compilation-dir=. -"$opt" -c "$s" -o "$o"
		objs+=("$o")
	done
	local base=()
	[[ $arch == x86 ]] && base=(/BASE:0x10000)
	# /OPT:NOICF: identical functions (two wrappers) must stay apart, or
	# their call sites would map to one source line.
	"$LLD_LINK" /NOLOGO /DRIVER /SUBSYSTEM:NATIVE /ENTRY:"$ENTRY" /NODEFAULTLIB /BREPRO \
		/DEBUG:DWARF /OPT:REF /OPT:NOICF "${base[@]+"${base[@]}"}" \
		"${CLANG_LDFLAGS[@]+"${CLANG_LDFLAGS[@]}"}" /OUT:"$out" "${objs[@]}" \
		"$W"/lib/clang-"$arch"-*.lib
}

build_mingw() { # case variant out sources...
	local c=$1 v=$2 out=$3
	shift 3
	local arch=${v#mingw-} opt prefix entry
	opt=${arch##*-}
	arch=${arch%-*}
	local extra=()
	case $arch in
	x64) prefix=$MINGW64 entry=$ENTRY ;;
	x86)
		prefix=$MINGW32 entry=_${ENTRY}@8 # __stdcall decoration
		extra=(-fno-asynchronous-unwind-tables -Wl,--image-base,0x10000) ;;
	esac
	local ldflags=() f
	for f in "${MINGW_LDFLAGS[@]+"${MINGW_LDFLAGS[@]}"}"; do
		ldflags+=("${f//@MERGE_SCRIPT@/$W/lib/mingw-$arch-merge-iat.ld}")
	done
	local tmp=$out
	[[ -n $MINGW_POST ]] && tmp=$W/obj/$c-$v-prepost.sys
	mkdir -p "$W/obj"
	"$prefix-gcc" "${COMMON_CFLAGS[@]}" -Wno-multichar -g -fdebug-prefix-map="$TD"=. -"$opt" \
		"${extra[@]+"${extra[@]}"}" -nostdlib -Wl,--subsystem,native -Wl,-e,"$entry" \
		-Wl,--no-insert-timestamp -Wl,--dynamicbase -Wl,--nxcompat "${ldflags[@]+"${ldflags[@]}"}" \
		-o "$tmp" "$@" "$W"/lib/mingw-"$arch"-*.a
	if [[ -n $MINGW_POST ]]; then
		"$MINGW_POST" "$tmp" "$out" "$prefix-objcopy"
	fi
}

# ---- checks on each image ------------------------------------------------

verify() { # case image
	local hdr
	hdr=$("$LLVM_READOBJ" --file-headers --sections "$2") || die "$2: llvm-readobj cannot read it"
	grep -q 'Subsystem: IMAGE_SUBSYSTEM_NATIVE' <<<"$hdr" || die "$2: subsystem is not NATIVE"
	grep -q 'Name: \.debug_line ' <<<"$hdr" || die "$2: no .debug_line section (DWARF lost)"
	if [[ $1 == layout_reloc_cross ]]; then
		# The relocated pointer must straddle a page: page offset 0xFFE.
		"$LLVM_READOBJ" --coff-basereloc "$2" | grep -Eq 'Address: 0x[0-9A-F]*FFE$' ||
			die "$2: no base relocation at page offset 0xFFE"
	fi
}

# ---- main ----------------------------------------------------------------

all_cases() {
	local s
	for s in src/*; do
		[[ -d $s || $s == *.c ]] || continue
		s=${s#src/}
		echo "${s%.c}"
	done
}

if (($#)); then
	cases=("$@")
else
	mapfile -t cases < <(all_cases)
	# Drop images of cases whose source is gone.
	for d in drivers/*/; do
		[[ -d $d ]] || continue
		d=${d%/}
		d=${d#drivers/}
		[[ -e src/$d.c || -d src/$d ]] || { echo "removing stale drivers/$d"; rm -rf "drivers/$d"; }
	done
fi

n=0
for c in "${cases[@]}"; do
	if [[ -d src/$c ]]; then
		srcs=(src/"$c"/*.c)
		[[ -e ${srcs[0]} ]] || die "src/$c/ holds no .c file"
	elif [[ -f src/$c.c ]]; then
		srcs=("src/$c.c")
	else
		die "no source for case $c (src/$c.c or src/$c/)"
	fi
	configure "$c"
	out=$W/out/$c
	mkdir -p "$out"
	for v in $(variants); do
		if excluded "$v"; then
			continue
		fi
		case $v in
		clang-*) build_clang "$c" "$v" "$out/$v.sys" "${srcs[@]}" ;;
		mingw-*) build_mingw "$c" "$v" "$out/$v.sys" "${srcs[@]}" ;;
		esac
		verify "$c" "$out/$v.sys"
		n=$((n + 1))
	done
	rm -rf "drivers/$c"
	mkdir -p drivers
	mv "$out" "drivers/$c"
	chmod 644 drivers/"$c"/*.sys
done
echo "build-fixtures: built $n images for ${#cases[@]} cases in testdata/drivers"
