#!/usr/bin/env python3
"""Generates gpool's forwarded-call code from the call table (protocol/calls/calls.toml).

Run at build time; every output goes to the build tree. One mode per component, so each
component's CMakeLists generates only what it compiles:

  --enum OUT            protocol: the Op enum and EnumNameOp()          (calls_generated.h)
  --backend OUT         server: GPOOL_DRIVER_FUNCS(X), the backend symbol list
  --server-decls OUT    server: declarations of the generated handlers and of the typed
                        argument structs of hook rows (inside class Worker)
  --server OUT          server: Worker::dispatch(), the generated handlers and the hook rows'
                        typed decoders
  --shim OUT            client shim: gpool_impl_<symbol> for pass-through and local rows
  --forwarded OUT       the entry points the table forwards, one a line (docs, checks)

The C types of a pass-through row's parameters come from driver-abi's generated
impl_decls.h (--decls), which driver-abi/gen/gen_driver_abi.py parsed out of cuda.h.

A hook row (hand-written handler, where there is policy) must name its arguments: `args` lists
args[] in order (`[]` when there are none) and `handles` (optional) the handles[] it may carry. The
generator then writes a struct <Name>Args and `bool decode_args(const Ctx&, <Name>Args&)`, which
refuses (false) a call whose args[] do not have exactly the declared shape or that carries more
handles than `handles` names, and otherwise fills every field from the wire; the handler reads
named fields instead of args[] by index (docs/protocol.md, "Typed hook arguments"). An entry of
`args` is one of:
  name               one uint64_t field;
  name[count]        a counted array: std::span<const uint64_t> of `count` entries, where
                     `count` is a scalar named before it; `name[count*k]` holds k entries per
                     counted item (pairs: k = 2). Every count is bounded by the row's
                     `max_count` (default 4096) and by what args[] still holds;
  name[]             the open tail, last only: whatever args[] holds after the other fields, for
                     layouts that vary by a kind field and are checked by the handler.
Fields after an array are read at the position the counts before them give; without an open
tail, args[] must end exactly after the last field.

A row that cannot be generated (an unknown role, a C type with no layout, a parameter count
that does not match the symbol, an `args` name that is not a C identifier or repeats, a count
not named before its array, an open tail that is not last, a hook row without `args`) stops the
build with a message naming the row.
"""
import argparse
import re
import sys
import tomllib

TABLE_HINT = "protocol/calls/calls.toml"
ROLES = {"scalar", "out", "device", "function", "stream", "event", "in_struct", "out_struct"}
KINDS = {"sync", "async", "local"}
# C types a scalar/out parameter may have: integers and cuda.h enums (CU* typedefs of enums).
INTEGER_TYPES = {
    "int": True, "unsigned int": False, "unsigned": False, "size_t": False, "long": True,
    "long long": True, "unsigned long long": False, "unsigned long": False, "short": True,
    "unsigned short": False, "cuuint64_t": False, "cuuint32_t": False, "CUdevice": True,
}
HANDLE_TYPES = {"function": {"CUfunction"}, "stream": {"CUstream"}, "event": {"CUevent"},
                "device": {"CUdevice"}}


class TableError(Exception):
    pass


def fail(row, why):
    raise TableError(f"{TABLE_HINT}: row {row.get('name', '?')} (op {row.get('op', '?')}): {why}")


def load_table(path):
    with open(path, "rb") as f:
        data = tomllib.load(f)
    rows = data.get("call", [])
    seen_ops, seen_names, seen_symbols = {}, set(), set()
    for row in rows:
        name = row.get("name")
        if not name or not re.fullmatch(r"[A-Z][A-Za-z0-9]*", name):
            fail(row, "`name` must be a CamelCase identifier")
        if name in seen_names:
            fail(row, "duplicate name")
        seen_names.add(name)
        kind = row.get("kind")
        if kind not in KINDS:
            fail(row, f"`kind` must be one of {sorted(KINDS)}")
        op = row.get("op")
        if not isinstance(op, int) or op < 0 or op > 0xFFFF:
            fail(row, "`op` must be an integer 0..65535")
        if kind == "local":
            if op != 0:
                fail(row, "a local row has no opcode (op = 0)")
            if "local" not in row or not row.get("symbols"):
                fail(row, "a local row needs `symbols` and `local` (the CUresult it answers)")
        else:
            if op == 0:
                fail(row, "opcode 0 is Invalid")
            if op in seen_ops:
                fail(row, f"opcode {op} is already {seen_ops[op]}")
            seen_ops[op] = name
        served = row.get("served_by", "worker")
        if served not in ("worker", "supervisor", "notify"):
            fail(row, "`served_by` must be worker, supervisor or notify")
        if kind != "local" and served == "worker" and ("hook" in row) == ("symbols" in row):
            fail(row, "a worker row has either a `hook` (hand-written handler) or `symbols` and "
                      "`params` (generated pass-through), not both or neither")
        if "args" in row or "handles" in row:
            if "hook" not in row:
                fail(row, "`args`/`handles` name a hook row's wire arguments; a pass-through row has `params`")
            if not isinstance(row.get("args", []), list) or not isinstance(row.get("handles", []), list):
                fail(row, "`args` and `handles` are lists of names")
            if "handles" in row and "args" not in row:
                fail(row, "`handles` goes with `args` (an empty list when the call has none)")
            for n in row.get("handles", []):
                if not isinstance(n, str) or not re.fullmatch(r"[a-z_][a-z0-9_]*", n):
                    fail(row, f"argument name {n!r} must be a lower_case C identifier")
            fields = parse_args(row)
            names = [f[1] for f in fields] + row.get("handles", [])
            if len(set(names)) != len(names):
                fail(row, "an argument or handle name repeats")
        elif "max_count" in row:
            fail(row, "`max_count` bounds the counted arrays of `args`; this row has no `args`")
        if "hook" in row and "args" not in row:
            fail(row, "a hook row must declare its wire layout: `args` (the names of args[] in order; "
                      "[] when it has none) and `handles` if it carries any")
        for sym in row.get("symbols", []):
            if sym in seen_symbols:
                fail(row, f"symbol {sym} is in two rows")
            seen_symbols.add(sym)
        if "symbols" in row and kind != "local":
            params = row.get("params")
            if not isinstance(params, list):
                fail(row, "`params` (one role per C parameter) is required with `symbols`")
            for p in params:
                if p not in ROLES:
                    fail(row, f"parameter role {p!r} has no generated layout (roles: {sorted(ROLES)})")
            if kind == "async" and ("out" in params or "out_struct" in params):
                fail(row, "an async call cannot answer `out`/`out_struct` parameters (make it sync)")
    backend = data.get("backend_symbols", [])
    return rows, backend


ARG_RE = re.compile(r"([a-z_][a-z0-9_]*)(?:\[(?:([a-z_][a-z0-9_]*)(?:\*([1-9][0-9]?))?)?\])?")
DEFAULT_MAX_COUNT = 4096


def parse_args(row):
    """A hook row's `args` as fields: ("scalar", name), ("array", name, count, per) for
    `name[count]` / `name[count*per]` (count: an earlier scalar field; per entries per counted
    item) or ("rest", name) for a final `name[]` (whatever args[] holds after the other fields,
    for layouts that vary by kind and are checked by the handler)."""
    args = row.get("args", [])
    if not isinstance(args, list):
        fail(row, "`args` and `handles` are lists of names")
    max_count = row.get("max_count", DEFAULT_MAX_COUNT)
    if not isinstance(max_count, int) or isinstance(max_count, bool) or not 1 <= max_count <= 1 << 20:
        fail(row, "`max_count` must be an integer 1..1048576")
    fields, scalars = [], set()
    for i, a in enumerate(args):
        m = ARG_RE.fullmatch(a) if isinstance(a, str) else None
        if not m:
            fail(row, f"argument name {a!r} must be a lower_case C identifier, name[count], "
                      "name[count*k] or a final name[]")
        name, count, per = m.group(1), m.group(2), m.group(3)
        if a.endswith("[]"):
            if i != len(args) - 1:
                fail(row, f"the open tail {a!r} must be the last argument")
            fields.append(("rest", name))
        elif count is not None:
            if count not in scalars:
                fail(row, f"the count of {a!r} must be a scalar argument named before it")
            fields.append(("array", name, count, int(per or 1)))
        else:
            fields.append(("scalar", name))
            scalars.add(name)
    return fields


DECL_RE = re.compile(r"^CUresult gpool_impl_(\w+)\((.*)\);$")


def load_decls(path):
    decls = {}
    with open(path) as f:
        for line in f:
            m = DECL_RE.match(line.strip())
            if not m:
                continue
            params = []
            text = m.group(2).strip()
            if text and text != "void":
                for p in text.split(","):
                    p = p.strip()
                    pm = re.fullmatch(r"(.*?)([A-Za-z_]\w*)", p)
                    if not pm:
                        params.append((p, None))
                        continue
                    ctype = re.sub(r"\s+", " ", pm.group(1).replace("*", " * ")).strip()
                    ctype = ctype.replace(" *", "*")
                    params.append((ctype, pm.group(2)))
            decls[m.group(1)] = params
    return decls


# cuda.h typedefs that are handles or pointers, never plain values or structs.
OPAQUE_TYPES = {"CUfunction", "CUstream", "CUevent", "CUcontext", "CUmodule", "CUlibrary", "CUkernel",
                "CUdeviceptr", "CUarray", "CUgreenCtx", "CUgraph", "CUgraphExec", "CUmemoryPool"}
# cuda.h typedefs of structs and unions (a pointer to one may be an in_struct/out_struct).
STRUCT_TYPES = {"CUstreamAttrValue", "CUlaunchAttributeValue", "CUkernelNodeAttrValue",
                "CUlaunchConfig", "CUuuid", "CUdevprop", "CUmemLocation", "CUmemAccessDesc",
                "CUmemAllocationProp", "CUmemPoolProps", "CUaccessPolicyWindow"}


def is_integer(ctype):
    c = ctype.replace("const ", "").strip()
    return c in INTEGER_TYPES or (re.fullmatch(r"CU\w+", c) is not None and c not in OPAQUE_TYPES
                                  and c not in STRUCT_TYPES)


def typed_params(row, decls):
    sym = row["symbols"][0]
    if sym not in decls:
        fail(row, f"{sym} is not a driver entry point of this CUDA toolkit (impl_decls.h)")
    cparams = decls[sym]
    roles = row.get("params", [])
    if len(cparams) != len(roles):
        fail(row, f"{sym} has {len(cparams)} parameters, the row lists {len(roles)} roles")
    for extra in row["symbols"][1:]:
        if decls.get(extra) != cparams:
            fail(row, f"{extra} does not have the parameters of {sym}")
    out = []
    for (ctype, pname), role in zip(cparams, roles):
        if pname is None:
            fail(row, f"parameter {ctype!r} of {sym} could not be read")
        if role in ("scalar",) and not is_integer(ctype):
            fail(row, f"parameter {pname} ({ctype}) of {sym}: role scalar needs an integer or enum type")
        if role == "out":
            if not ctype.endswith("*") or not is_integer(ctype[:-1]):
                fail(row, f"parameter {pname} ({ctype}) of {sym}: role out needs a pointer to an "
                          "integer or enum")
        if role in ("in_struct", "out_struct"):
            base = ctype[:-1].replace("const ", "").strip() if ctype.endswith("*") else ""
            if not re.fullmatch(r"CU\w+", base) or is_integer(base) or base in OPAQUE_TYPES:
                fail(row, f"parameter {pname} ({ctype}) of {sym}: role {role} needs a pointer to a "
                          "cuda.h struct or union (CU... type)")
            if role == "in_struct" and not ctype.startswith("const "):
                fail(row, f"parameter {pname} ({ctype}) of {sym}: role in_struct needs a const pointer")
            if role == "out_struct" and ctype.startswith("const "):
                fail(row, f"parameter {pname} ({ctype}) of {sym}: role out_struct needs a non-const pointer")
        if role in HANDLE_TYPES and ctype not in HANDLE_TYPES[role]:
            fail(row, f"parameter {pname} ({ctype}) of {sym}: role {role} needs "
                      f"{' or '.join(sorted(HANDLE_TYPES[role]))}")
        out.append((ctype, pname, role))
    return out


def struct_base(ctype):
    return ctype[:-1].replace("const ", "").strip()


HEADER = ("// DO NOT EDIT. Generated by protocol/calls/gen_calls.py from protocol/calls/calls.toml.\n"
          "// Change the table (or the generator), not this file.\n")


def gen_enum(rows):
    wire = sorted((r for r in rows if r["kind"] != "local"), key=lambda r: r["op"])
    lines = [HEADER, "#pragma once", "", "#include <cstdint>", "",
             "namespace gpool::protocol::calls {", "",
             "// The opcode of a Call (gpool.fbs); each one's layout is its row in calls.toml.",
             "enum class Op : uint32_t {", "  Invalid = 0,"]
    for r in wire:
        lines.append(f"  {r['name']} = {r['op']},")
    lines += ["};", "", "// The opcode's name (\"\" for a number no row has).",
              "inline const char* EnumNameOp(Op op) {", "  switch (op) {",
              "    case Op::Invalid: return \"Invalid\";"]
    for r in wire:
        lines.append(f"    case Op::{r['name']}: return \"{r['name']}\";")
    lines += ["  }", "  return \"\";", "}", "", "}  // namespace gpool::protocol::calls", ""]
    return "\n".join(lines)


def passthrough(rows):
    return [r for r in rows if r["kind"] != "local" and "symbols" in r
            and r.get("served_by", "worker") == "worker"]


def gen_backend(rows, backend):
    syms = list(backend)
    for r in passthrough(rows):
        if r["symbols"][0] not in syms:
            syms.append(r["symbols"][0])
    lines = [HEADER, "#pragma once", "",
             "// Every driver entry point the worker calls: the table's backend_symbols (used by",
             "// hand-written handlers) and the backend symbol of every pass-through row.",
             "#define GPOOL_DRIVER_FUNCS(X) \\"]
    lines += [f"  X({s}) \\" for s in syms]
    lines += ["  /* end */", ""]
    return "\n".join(lines)


def typed_hooks(rows):
    return [r for r in rows if "hook" in r and "args" in r]


def gen_server_decls(rows):
    lines = [HEADER, "// Included inside class Worker (worker.h): one handler per pass-through row."]
    for r in passthrough(rows):
        lines.append(f"CUresult gen_{r['name']}(Ctx& c);")
    lines.append("// The typed arguments of hook rows that name them (calls.toml `args`), and their decoders:")
    lines.append("// false when args[] is not exactly that long or more handles than named came.")
    for r in typed_hooks(rows):
        fields = " ".join(f"uint64_t {f[1]} = 0;" if f[0] == "scalar" else
                          f"std::span<const uint64_t> {f[1]};" for f in parse_args(r))
        lines.append(f"struct {r['name']}Args {{ {fields} }};".replace("{  }", "{}"))
        lines.append(f"static bool decode_args(const Ctx& c, {r['name']}Args& out);")
    return "\n".join(lines) + "\n"


def gen_server(rows, decls):
    lines = [HEADER, "#include <cstring>", "", '#include "worker.h"', "", "namespace gpool::server {", "",
             "using remote::Op;", "",
             "CUresult Worker::dispatch(Ctx& c, bool& known) {", "  known = true;",
             "  switch (c.op) {"]
    for r in sorted(rows, key=lambda r: r["op"]):
        if r["kind"] == "local" or r.get("served_by", "worker") != "worker":
            continue
        expr = r["hook"] if "hook" in r else f"gen_{r['name']}(c)"
        lines.append(f"    case Op::{r['name']}: return {expr};")
    lines += ["    default: break;", "  }", "  known = false;", "  return CUDA_ERROR_NOT_SUPPORTED;",
              "}", ""]
    for r in typed_hooks(rows):
        args, handles = r["args"], r.get("handles", [])
        lines += [f"// calls.toml row {r['name']} (op {r['op']}): args [{', '.join(args)}]"
                  + (f"; handles [{', '.join(handles)}]" if handles else "") + ".",
                  f"bool Worker::decode_args(const Ctx& c, {r['name']}Args& out) {{"]
        fields = parse_args(r)
        if all(f[0] == "scalar" for f in fields):
            lines.append(f"  if (c.arg_count() != {len(args)} || c.handle_count() > {len(handles)}) return false;")
            lines += [f"  out.{n} = c.arg({i});" for i, n in enumerate(args)]
            if not args:
                lines.append("  (void)out;")
            lines += ["  return true;", "}", ""]
            continue
        # Counted arrays: the position of each field depends on the counts before it.
        max_count = r.get("max_count", DEFAULT_MAX_COUNT)
        lines += [f"  if (c.handle_count() > {len(handles)}) return false;",
                  "  const std::span<const uint64_t> a = c.args();",
                  "  size_t at = 0;"]
        for f in fields:
            if f[0] == "scalar":
                lines.append(f"  if (at >= a.size()) return false;")
                lines.append(f"  out.{f[1]} = a[at++];")
            elif f[0] == "array":
                _, n, count, per = f
                need = f"out.{count}" + (f" * {per}" if per != 1 else "")
                lines.append(f"  if (out.{count} > {max_count} || {need} > a.size() - at) return false;")
                lines.append(f"  out.{n} = a.subspan(at, {need});")
                lines.append(f"  at += {need};")
            else:
                lines.append(f"  out.{f[1]} = a.subspan(at);")
                lines.append("  at = a.size();")
        lines += ["  return at == a.size();", "}", ""]
    for r in passthrough(rows):
        params = typed_params(r, decls)
        nargs = sum(1 for _, _, role in params if role in ("scalar", "device"))
        nhandles = sum(1 for _, _, role in params if role in ("function", "stream", "event"))
        body = [f"// {r['symbols'][0]}: generated from calls.toml row {r['name']} (op {r['op']}).",
                f"CUresult Worker::gen_{r['name']}(Ctx& c) {{",
                f"  if (c.arg_count() != {nargs} || c.handle_count() != {nhandles}) "
                "return CUDA_ERROR_INVALID_VALUE;"]
        call, results, out_structs = [], [], []
        ai = hi = 0
        in_sizes = [f"sizeof({struct_base(ctype)})" for ctype, _, role in params if role == "in_struct"]
        if in_sizes:
            body.append(f"  if (c.inline_text().size() != {' + '.join(in_sizes)}) return CUDA_ERROR_INVALID_VALUE;")
        in_off = "0"
        for i, (ctype, pname, role) in enumerate(params):
            v = f"p{i}"
            if role == "in_struct":
                base = struct_base(ctype)
                body.append(f"  {base} {v}{{}};")
                body.append(f"  std::memcpy(&{v}, c.inline_text().data() + {in_off}, sizeof({base}));")
                in_off = f"{in_off} + sizeof({base})"
                call.append(f"&{v}")
            elif role == "out_struct":
                base = struct_base(ctype)
                body.append(f"  {base} {v}{{}};")
                call.append(f"&{v}")
                out_structs.append(v)
            elif role == "scalar":
                body.append(f"  const auto {v} = static_cast<{ctype}>(c.arg({ai}));")
                ai += 1
                call.append(v)
            elif role == "device":
                body.append(f"  CUdevice {v} = 0;")
                body.append(f"  if (CUresult st = device_at(c.arg({ai}), {v}); st != CUDA_SUCCESS) return st;")
                ai += 1
                call.append(v)
            elif role == "out":
                base = ctype[:-1].replace("const ", "")
                body.append(f"  {base} {v}{{}};")
                call.append(f"&{v}")
                results.append(v)
            elif role == "function":
                body.append(f"  Function* {v} = function_of(c, {hi});")
                body.append(f"  if ({v} == nullptr) return CUDA_ERROR_INVALID_HANDLE;")
                hi += 1
                call.append(f"{v}->fn")
            elif role == "stream":
                body.append(f"  CUstream {v} = nullptr;")
                body.append(f"  if (CUresult st = stream_of(c, {hi}, {v}); st != CUDA_SUCCESS) return st;")
                hi += 1
                call.append(v)
            elif role == "event":
                body.append(f"  CUevent {v} = nullptr;")
                body.append(f"  if (CUresult st = event_of(c, {hi}, {v}); st != CUDA_SUCCESS) return st;")
                hi += 1
                call.append(v)
        body.append(f"  const CUresult st = drv_.{r['symbols'][0]}({', '.join(call)});")
        if results:
            enc = ", ".join(f"static_cast<uint64_t>({v})" for v in results)
            body.append(f"  if (st == CUDA_SUCCESS) c.results = {{{enc}}};")
        for v in out_structs:
            body.append("  if (st == CUDA_SUCCESS) {")
            body.append(f"    const auto* b{v} = reinterpret_cast<const std::byte*>(&{v});")
            body.append(f"    c.inline_out.insert(c.inline_out.end(), b{v}, b{v} + sizeof({v}));")
            body.append("  }")
        body += ["  return st;", "}", ""]
        lines += body
    lines += ["}  // namespace gpool::server", ""]
    return "\n".join(lines)


def gen_shim(rows, decls):
    lines = [HEADER, "// The client shim's entry points for the table's pass-through and local rows.",
             "#include <cuda.h>", "", "#include <array>", "#include <cstddef>", "#include <cstring>", "", '#include "contexts.h"',
             '#include "pool.h"', '#include "session.h"', '#include "state.h"', "",
             "using namespace gpool::shim;", ""]
    for r in rows:
        if "symbols" not in r or r.get("served_by", "worker") != "worker":
            continue
        for sym in r["symbols"]:
            if sym not in decls:
                fail(r, f"{sym} is not a driver entry point of this CUDA toolkit (impl_decls.h)")
            cparams = decls[sym]
            sig = ", ".join(f"{t} {n}" for t, n in cparams)
            lines.append(f"// Generated from calls.toml row {r['name']}.")
            lines.append(f'extern "C" CUresult gpool_impl_{sym}({sig}) {{')
            if r["kind"] == "local":
                lines.append("  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;")
                if r.get("context", True):
                    lines.append("  if (current_context() == nullptr) return CUDA_ERROR_INVALID_CONTEXT;")
                lines += [f"  return {r['local']};", "}", ""]
                continue
            params = typed_params(r, decls)
            body, args, handles, outs = [], [], [], []
            for ctype, pname, role in params:
                if role in ("out", "in_struct", "out_struct"):
                    body.append(f"  if ({pname} == nullptr) return CUDA_ERROR_INVALID_VALUE;")
            ins = [(struct_base(t), n) for t, n, role in params if role == "in_struct"]
            out_structs = [(struct_base(t), n) for t, n, role in params if role == "out_struct"]
            body.append("  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;")
            if r.get("context", True):
                body.append("  if (current_context() == nullptr) return CUDA_ERROR_INVALID_CONTEXT;")
            session = "Session::current()"
            for i, (ctype, pname, role) in enumerate(params):
                if role == "scalar":
                    args.append(f"static_cast<uint64_t>({pname})")
                elif role == "device":
                    body += ["  Session* dev_session = nullptr;", f"  uint64_t dev{i} = 0;",
                             f"  if (CUresult st = Pool::global().locate({pname}, dev_session, dev{i}); "
                             "st != CUDA_SUCCESS) return st;"]
                    session = "*dev_session"
                    args.append(f"dev{i}")
                elif role == "function":
                    body += [f"  const uint64_t fid{i} = reinterpret_cast<uint64_t>({pname});",
                             f"  const auto info{i} = find_function(fid{i});",
                             f"  if (!info{i}) return CUDA_ERROR_INVALID_HANDLE;"]
                    handles.append(f"HandleRef(fid{i}, info{i}->kernel ? gpool::remote::HandleKind_Kernel "
                                   ": gpool::remote::HandleKind_Function)")
                elif role == "stream":
                    handles.append(f"stream_ref({pname})")
                elif role == "event":
                    handles.append(f"HandleRef(reinterpret_cast<uint64_t>({pname}), "
                                   "gpool::remote::HandleKind_Event)")
                elif role == "out":
                    outs.append((ctype[:-1].replace("const ", ""), pname))
            if session != "Session::current()" and any(role in ("function", "stream", "event")
                                                      for _, _, role in params):
                fail(r, "a row with a device parameter cannot also take handles (one session)")
            body.append(f"  const std::array<uint64_t, {len(args)}> args{{{', '.join(args)}}};")
            body.append(f"  const std::array<HandleRef, {len(handles)}> handles{{{', '.join(handles)}}};")
            inline = "{}"
            if ins:
                total = " + ".join(f"sizeof({b})" for b, _ in ins)
                body.append(f"  std::array<std::byte, {total}> in{{}};")
                off = "0"
                for b, n in ins:
                    body.append(f"  std::memcpy(in.data() + {off}, {n}, sizeof({b}));")
                    off = f"{off} + sizeof({b})"
                inline = "in"
            if r["kind"] == "async":
                body.append(f"  return ({session}).async(Op::{r['name']}, args, handles, {inline});")
            else:
                body.append("  Reply reply;")
                body.append(f"  if (CUresult st = ({session}).sync(Op::{r['name']}, args, handles, {inline}, {{}}, "
                            "&reply); st != CUDA_SUCCESS) return st;")
                body.append(f"  if (reply.results.size() != {len(outs)}) return CUDA_ERROR_UNKNOWN;")
                if out_structs:
                    total = " + ".join(f"sizeof({b})" for b, _ in out_structs)
                    body.append(f"  if (reply.inline_data.size() != {total}) return CUDA_ERROR_UNKNOWN;")
                for k, (base, pname) in enumerate(outs):
                    body.append(f"  *{pname} = static_cast<{base}>(reply.results[{k}]);")
                off = "0"
                for b, n in out_structs:
                    body.append(f"  std::memcpy({n}, reply.inline_data.data() + {off}, sizeof({b}));")
                    off = f"{off} + sizeof({b})" 
                body.append("  return CUDA_SUCCESS;")
            lines += body + ["}", ""]
    return "\n".join(lines)


def gen_forwarded(rows):
    syms = []
    for r in rows:
        syms += r.get("symbols", [])
    return "\n".join(sorted(syms)) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--table", required=True)
    ap.add_argument("--decls", help="driver-abi's generated impl_decls.h")
    for opt in ("enum", "backend", "server-decls", "server", "shim", "forwarded"):
        ap.add_argument(f"--{opt}")
    a = ap.parse_args()
    try:
        rows, backend = load_table(a.table)
        decls = load_decls(a.decls) if a.decls else {}
        if (a.server or a.shim) and not decls:
            raise TableError("--server and --shim need --decls (driver-abi's impl_decls.h)")
        outputs = {a.enum: lambda: gen_enum(rows), a.backend: lambda: gen_backend(rows, backend),
                   a.server_decls: lambda: gen_server_decls(rows),
                   a.server: lambda: gen_server(rows, decls), a.shim: lambda: gen_shim(rows, decls),
                   a.forwarded: lambda: gen_forwarded(rows)}
        texts = {path: make() for path, make in outputs.items() if path}
    except TableError as e:
        print(f"gen_calls.py: error: {e}", file=sys.stderr)
        return 1
    for path, text in texts.items():
        # Unchanged outputs keep their time stamps, so a table edit that changes only some
        # outputs (a layout text, one row) rebuilds only what depends on those (ninja restat).
        try:
            with open(path) as f:
                if f.read() == text:
                    continue
        except OSError:
            pass
        with open(path, "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
