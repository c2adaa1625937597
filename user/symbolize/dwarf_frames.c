// SPDX-License-Identifier: Apache-2.0
/*
 * Frames from DWARF: the compile unit that holds an address, then the
 * chain of inlined instances there, with names, files and lines.
 */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <stdlib.h>
#include <string.h>

#include "symbolize/dwarf_frames.h"
#include "symbolize/elf.h"
#include "util/strpool.h"

static const char *intern(struct strpool *strs, const char *s)
{
	return s ? strpool__add(strs, s) : NULL;
}

/*
 * Names of a subprogram or an inlined instance.  Concrete and out-of-line
 * instances carry their names only through DW_AT_abstract_origin or
 * DW_AT_specification, which dwarf_attr_integrate follows.
 */
static void die_names(struct strpool *strs, Dwarf_Die *die, struct sym_frame *fr)
{
	Dwarf_Attribute attr;
	const char *linkage, *name;

	linkage = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_linkage_name, &attr));
	if (!linkage)
		linkage =
			dwarf_formstring(dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr));
	name = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_name, &attr));
	if (!linkage && !name)
		return;
	fr->system_name = intern(strs, linkage ? linkage : name);
	/*
	 * A C linkage name is an asm label (glibc's __GI_qsort for qsort): the
	 * source name reads better.  Mangled names demangle to the qualified one.
	 */
	if (linkage && (!name || !strncmp(linkage, "_Z", 2)))
		fr->function = sym_demangle(strs, linkage);
	else
		fr->function = intern(strs, name);
}

/* Where the inlined instance die was called from, in its caller. */
static void call_site(struct strpool *strs, Dwarf_Die *die, struct sym_frame *fr)
{
	Dwarf_Attribute attr;
	Dwarf_Files *files;
	Dwarf_Word val;
	Dwarf_Die cu;

	if (!dwarf_formudata(dwarf_attr(die, DW_AT_call_line, &attr), &val))
		fr->line = val;
	if (!dwarf_formudata(dwarf_attr(die, DW_AT_call_file, &attr), &val) &&
	    dwarf_diecu(die, &cu, NULL, NULL) && !dwarf_getsrcfiles(&cu, &files, NULL))
		fr->file = intern(strs, dwarf_filesrc(files, val, NULL, NULL));
}

static bool is_function_scope(Dwarf_Die *die)
{
	int tag = dwarf_tag(die);

	return tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine ||
	       tag == DW_TAG_entry_point;
}

/*
 * dwarf_getscopes() leaves an inlined instance through the scopes of its
 * abstract definition, not of its caller; dwarf_getscopes_die() on the
 * innermost scope gives the nesting as laid out in the caller, as
 * eu-addr2line -i does.  That walks the CU a second time, so only when an
 * inlined instance is involved.
 */
static int physical_scopes(Dwarf_Die *cudie, Dwarf_Addr pc, Dwarf_Die **scopes)
{
	bool inlined = false;
	Dwarf_Die inner;
	int n, i;

	*scopes = NULL;
	n = dwarf_getscopes(cudie, pc, scopes);
	for (i = 0; i < n && !inlined; i++)
		inlined = dwarf_tag(&(*scopes)[i]) == DW_TAG_inlined_subroutine;
	if (n > 0 && !inlined)
		return n;
	if (n > 0) {
		inner = (*scopes)[0];
		free(*scopes);
		*scopes = NULL;
		n = dwarf_getscopes_die(&inner, scopes);
	}
	if (n <= 0) {
		free(*scopes);
		*scopes = NULL;
		return 0;
	}
	return n;
}

/*
 * The compile unit holding pc, by walking every unit: for files without
 * .debug_aranges (Go's), where libdw's lookup finds nothing.
 */
static Dwarf_Die *cu_by_walk(Dwfl_Module *mod, Dwarf_Addr pc, Dwarf_Die *mem, Dwarf_Addr *bias)
{
	Dwarf *dw = dwfl_module_getdwarf(mod, bias);
	Dwarf_Off off = 0, next;
	size_t hsize;

	if (!dw)
		return NULL;
	while (dwarf_nextcu(dw, off, &next, &hsize, NULL, NULL, NULL) == 0) {
		if (dwarf_offdie(dw, off + hsize, mem) && dwarf_haspc(mem, pc - *bias) == 1)
			return mem;
		off = next;
	}
	return NULL;
}

/*
 * The inline chain at addr, innermost first: the innermost frame gets its
 * line from the line table, each outer one the call site of the instance
 * nested in it.  Too deep a chain keeps its innermost frames and the real
 * function.
 */
int resolve_dwarf(Dwfl_Module *mod, Dwarf_Addr addr, struct strpool *strs, struct sym_frame *out)
{
	Dwarf_Die *cudie, *scopes, *prev = NULL, cumem;
	Dwarf_Addr bias, pc;
	Dwarf_Line *line;
	int nscopes, n = 0, i, lineno;

	cudie = dwfl_module_addrdie(mod, addr, &bias);
	if (!cudie)
		cudie = cu_by_walk(mod, addr, &cumem, &bias);
	if (!cudie)
		return 0;
	pc = addr - bias;
	nscopes = physical_scopes(cudie, pc, &scopes);
	for (i = 0; i < nscopes; i++) {
		Dwarf_Die *die = &scopes[i];
		struct sym_frame *fr = &out[n];
		bool outermost;

		if (!is_function_scope(die))
			continue;
		/* The real function (subprogram, entry point) ends the chain. */
		outermost = dwarf_tag(die) != DW_TAG_inlined_subroutine;
		if (n < SYM_MAX_INLINE - 1 || outermost) {
			*fr = (struct sym_frame){};
			die_names(strs, die, fr);
			if (!dwarf_decl_line(die, &lineno))
				fr->start_line = lineno;
			if (prev) {
				call_site(strs, prev, fr);
			} else {
				line = dwarf_getsrc_die(cudie, pc);
				if (line && !dwarf_lineno(line, &lineno)) {
					fr->line = lineno;
					fr->file = intern(strs, dwarf_linesrc(line, NULL, NULL));
				}
			}
			n++;
		}
		prev = die;
		if (outermost)
			break;
	}
	free(scopes);
	return n;
}
