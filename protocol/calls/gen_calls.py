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

A hook row (hand-written handler, where there is policy) declares its whole wire layout: `args`
lists args[] in order (`[]` when there are none), `handles` (optional) the handles[] it may
carry, `inline` its inline data and `segments` its bulk segments (each optional: a row without
them refuses a call that carries any). The generator then writes a struct <Name>Args and
`bool decode_args(const Ctx&, <Name>Args&)`, which refuses (false, logged with the row's name
and the reason) a call that does not have exactly the declared shape or that carries more
handles than `handles` names, and otherwise fills every field from the wire; the handler reads
named fields instead of args[] by index, and keeps only policy (docs/protocol.md, "Typed hook
arguments"). An entry of `args` is one of:
  name               one uint64_t field;
  name?              an optional trailing field: args[] may end right before it (it reads 0 and
                     `has_<name>` is false). After one, only optional fields and arrays counted by
                     an optional field may follow;
  name[count]        a counted array: std::span<const uint64_t> of `count` entries, where
                     `count` is a scalar named before it; `name[count*k]` holds k entries per
                     counted item (pairs: k = 2). Every count is bounded by the row's
                     `max_count` (default 4096) and by what args[] still holds;
  name[*k]           a tuple tail, last only: the rest of args[] as whole k-tuples (at most
                     `max_count` of them), for lists whose length the call does not send
                     ((device, flags) access pairs);
  name{key}          a variant tail, last only: the rest of args[] laid out by the value of the
                     scalar `key` named before it. The row's `variants.<name>` lists each layout
                     as { when = value or [values], name = "...", args = [...] } (args in this
                     same language, without variants; fields may be counted by the row's scalars)
                     and optionally `inline = {...}` for a kind that alone carries inline data.
                     The struct gets one member struct per variant, named by `name`
                     (a.kernel.gx); a key no variant lists is refused, and so is a kind with
                     fields missing or left over;
  name[]             an open tail, last only: whatever args[] holds after the other fields,
                     unchecked. Allowed only with `open_tail = "why"`, saying why no declared
                     layout fits; no row of the table needs one (every former open tail is now a
                     variant, tuple or optional form).
Fields after an array are read at the position the counts before them give; args[] must end
exactly after the last field.

`inline = { name, max[, size | each][, min][, text] }` declares the call's inline data: `max`
bytes at most (an integer up to the frame's 64 KiB, or a constant expression), `min` at least,
`size` exactly (an expression: a sum of products of integers, sizeof(CUtype) and the row's
scalar fields, computed without overflow), or `each` a multiple of a record size (constant).
The handler gets std::span<const std::byte> (or std::string_view with `text = true`) aliasing
the frame. Presence follows from the bounds: empty inline data is refused only below `min` or
`size`. A bound that the call's own handles decide (a launch's parameter buffer is the size of
its function's layout) stays in the handler; the row still bounds it (32764 bytes, the driver's
limit on a kernel's parameters).

`segments = [{ name[, size][, min][, max][, optional] }, ...]` declares the bulk segments in
order: each one's length is checked against `size` (an expression as above), `min` and `max`
(bytes; default 0 .. the transport's 4 GiB), and optional ones (trailing) may be missing. Segments
are streamed, not held, so the handler gets each one's length (`<name>_bytes`, and
`has_<name>` for an optional one) and receives the bytes itself, after its policy checks.

A row that cannot be generated (an unknown role, a C type with no layout, a parameter count
that does not match the symbol, an `args` name that is not a C identifier or repeats, a count
or variant key not named before its use, a tail that is not last, an open tail without
`open_tail`, a variant list that repeats a key value or names no tail, an inline or segment
declaration with an unknown key, a bound out of range or a size expression naming no scalar of
the row, a hook row without `args`, layout keys on a pass-through row) stops the build with a
message naming the row.
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
            parse_layout(row)  # every mode refuses a malformed layout alike
        else:
            for key in ("max_count", "variants", "inline", "segments", "open_tail"):
                if key in row:
                    fail(row, f"`{key}` belongs to a hook row's declared layout; this row has no `args`")
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


ARG_RE = re.compile(r"([a-z_][a-z0-9_]*)(?:(\?)|\[(?:([a-z_][a-z0-9_]*)(?:\*([1-9][0-9]?))?|\*([1-9][0-9]?))?\]"
                    r"|\{([a-z_][a-z0-9_]*)\})?")
IDENT_RE = re.compile(r"[a-z_][a-z0-9_]*")
DEFAULT_MAX_COUNT = 4096
MAX_INLINE = 64 * 1024          # protocol/limits.h kMaxInlineBytes: a frame's inline_data at most
MAX_SEGMENT = 4 << 30           # protocol/limits.h kMaxSegmentBytes
INLINE_KEYS = {"name", "max", "min", "size", "each", "text"}
SEGMENT_KEYS = {"name", "max", "min", "size", "optional"}
VARIANT_KEYS = {"when", "name", "args", "inline"}


def parse_args(row):
    """A hook row's `args` as a list of fields (dicts with "kind" and "name"):
      scalar    name            one uint64_t
      optional  name?           one uint64_t args[] may end before (then 0, has_<name> false)
      array     name[count*k]   a span of `count` * k entries, count a scalar named before it
      tuples    name[*k]        the rest of args[] as whole k-tuples (last only)
      rest      name[]          the rest of args[], unchecked (last only; needs `open_tail`)
      variant   name{key}       the rest of args[] laid out by the value of scalar `key` (last
                                only; the row's `variants.<name>` lists each layout)
    Checked here, so every generator mode fails alike on a malformed row."""
    return parse_layout(row)["fields"]


def max_count_of(row):
    max_count = row.get("max_count", DEFAULT_MAX_COUNT)
    if not isinstance(max_count, int) or isinstance(max_count, bool) or not 1 <= max_count <= 1 << 20:
        fail(row, "`max_count` must be an integer 1..1048576")
    return max_count


def parse_fields(row, args, outer, where, allow_variant, prefix="out."):
    """The fields of one `args` list (the row's, or a variant's: `where` names it in messages).
    `outer`: scalars of enclosing scopes usable as counts, name -> C++ expression."""
    if not isinstance(args, list):
        fail(row, f"{where}: `args` must be a list of names")
    fields, scalars, names = [], dict(outer), set()
    after_optional = False
    for i, a in enumerate(args):
        m = ARG_RE.fullmatch(a) if isinstance(a, str) else None
        if not m:
            fail(row, f"{where}: argument name {a!r} must be a lower_case C identifier, name?, name[count], "
                      "name[count*k], a final name[*k], a final name{key} or a final name[]")
        name, optional, count, per, tuple_k, key = m.groups()
        if name in names or name in outer:
            fail(row, f"{where}: an argument or handle name repeats ({name})")
        names.add(name)
        last = i == len(args) - 1
        if a.endswith("[]"):
            if not last:
                fail(row, f"{where}: the open tail {a!r} must be the last argument")
            if not isinstance(row.get("open_tail"), str) or not row["open_tail"].strip():
                fail(row, f"{where}: the open tail {a!r} has no declared layout: declare it as variants "
                          "(name{key}), tuples (name[*k]) or counted arrays, or say in `open_tail` why none fits")
            fields.append({"kind": "rest", "name": name})
        elif tuple_k is not None:
            if not last:
                fail(row, f"{where}: the tuple tail {a!r} must be the last argument")
            fields.append({"kind": "tuples", "name": name, "per": int(tuple_k)})
        elif key is not None:
            if not allow_variant:
                fail(row, f"{where}: variants do not nest ({a!r})")
            if not last:
                fail(row, f"{where}: the variant tail {a!r} must be the last argument")
            if key not in scalars or key in outer:
                fail(row, f"{where}: the key of {a!r} must be a scalar argument named before it")
            if after_optional:
                fail(row, f"{where}: the variant tail {a!r} cannot follow an optional argument")
            fields.append({"kind": "variant", "name": name, "key": key})
        elif count is not None:
            if count not in scalars:
                fail(row, f"{where}: the count of {a!r} must be a scalar argument named before it")
            if after_optional and not scalars[count][1]:
                fail(row, f"{where}: after an optional argument, an array's count must be optional too ({a!r})")
            fields.append({"kind": "array", "name": name, "count": count, "per": int(per or 1),
                           "count_expr": scalars[count][0]})
        elif optional:
            after_optional = True
            fields.append({"kind": "optional", "name": name})
            scalars[name] = (f"{prefix}{name}", True)
        else:
            if after_optional:
                fail(row, f"{where}: {a!r} follows an optional argument (only optional ones and arrays they "
                          "count may)")
            fields.append({"kind": "scalar", "name": name})
            scalars[name] = (f"{prefix}{name}", False)
    return fields, scalars


def parse_size_expr(row, where, text, scalars, constant):
    """A size expression: a sum of products of integers, sizeof(CUtype) and (unless `constant`)
    scalar arguments. Returns the terms as lists of C++ factors."""
    if isinstance(text, int) and not isinstance(text, bool):
        if text < 0:
            fail(row, f"{where}: a size must not be negative")
        return [[str(text)]]
    if not isinstance(text, str) or not text.strip():
        fail(row, f"{where}: a size is an integer or an expression string")
    terms = []
    for term in text.split("+"):
        factors = []
        for f in term.split("*"):
            f = f.strip()
            if re.fullmatch(r"[0-9]+", f):
                factors.append(f)
            elif re.fullmatch(r"sizeof\(CU[A-Za-z0-9_]+\)", f):
                factors.append(f)
            elif IDENT_RE.fullmatch(f) and not constant:
                if f not in scalars:
                    fail(row, f"{where}: size expression {text!r} names {f!r}, not a scalar argument of the row")
                factors.append(scalars[f][0])
            else:
                fail(row, f"{where}: size expression {text!r}: {f!r} is not an integer, sizeof(CUtype)"
                          + ("" if constant else " or a scalar argument") + " (only + and * combine them)")
        terms.append(factors)
    return terms


def parse_inline(row, decl, where, scalars):
    if not isinstance(decl, dict) or set(decl) - INLINE_KEYS or "name" not in decl or "max" not in decl:
        fail(row, f"{where}: `inline` is a table {{ name, max[, size | each][, min][, text] }} "
                  f"(keys: {sorted(INLINE_KEYS)})")
    name = decl["name"]
    if not isinstance(name, str) or not IDENT_RE.fullmatch(name):
        fail(row, f"{where}: inline name {name!r} must be a lower_case C identifier")
    mx = decl["max"]
    if isinstance(mx, str):  # a constant expression, checked against the frame's limit by the compiler
        mx = size_text(parse_size_expr(row, f"{where}: inline max", mx, scalars, True))
    elif not isinstance(mx, int) or isinstance(mx, bool) or not 1 <= mx <= MAX_INLINE:
        fail(row, f"{where}: inline `max` must be an integer 1..{MAX_INLINE} (bytes; a frame's inline data "
                  "is at most 64 KiB) or a constant expression")
    mn = decl.get("min", 0)
    if not isinstance(mn, int) or isinstance(mn, bool) or mn < 0 or (isinstance(mx, int) and mn > mx):
        fail(row, f"{where}: inline `min` must be an integer 0..max")
    if "size" in decl and "each" in decl:
        fail(row, f"{where}: inline `size` (exact) and `each` (a multiple) exclude each other")
    if not isinstance(decl.get("text", False), bool):
        fail(row, f"{where}: inline `text` is true or false")
    out = {"name": name, "max": mx, "min": mn, "text": decl.get("text", False)}
    if "size" in decl:
        out["size"] = parse_size_expr(row, f"{where}: inline size", decl["size"], scalars, False)
    if "each" in decl:
        out["each"] = parse_size_expr(row, f"{where}: inline each", decl["each"], scalars, True)
    return out


def parse_segments(row, decls, scalars):
    if not isinstance(decls, list) or not decls:
        fail(row, "`segments` is a non-empty list of tables { name[, size][, min][, max][, optional] }")
    out, seen_optional = [], False
    for i, d in enumerate(decls):
        where = f"segment {i}"
        if not isinstance(d, dict) or set(d) - SEGMENT_KEYS or "name" not in d:
            fail(row, f"{where}: a segment is a table {{ name[, size][, min][, max][, optional] }} "
                      f"(keys: {sorted(SEGMENT_KEYS)})")
        name = d["name"]
        if not isinstance(name, str) or not IDENT_RE.fullmatch(name):
            fail(row, f"{where}: segment name {name!r} must be a lower_case C identifier")
        mx = d.get("max", MAX_SEGMENT)
        mn = d.get("min", 0)
        for v, k in ((mx, "max"), (mn, "min")):
            if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= MAX_SEGMENT:
                fail(row, f"{where}: segment `{k}` must be an integer 0..{MAX_SEGMENT} (bytes)")
        if mn > mx:
            fail(row, f"{where}: segment `min` is over its `max`")
        opt = d.get("optional", False)
        if not isinstance(opt, bool):
            fail(row, f"{where}: segment `optional` is true or false")
        if seen_optional and not opt:
            fail(row, f"{where}: a required segment cannot follow an optional one")
        seen_optional = seen_optional or opt
        seg = {"name": name, "max": mx, "min": mn, "optional": opt}
        if "size" in d:
            seg["size"] = parse_size_expr(row, f"{where}: size", d["size"], scalars, False)
        out.append(seg)
    return out


def parse_layout(row):
    """The whole declared wire layout of a hook row: fields, inline data, segments."""
    max_count = max_count_of(row)
    fields, scalars = parse_fields(row, row.get("args", []), {}, "args", True)
    member_names = [f["name"] for f in fields] + list(row.get("handles", []))
    member_names += ["has_" + f["name"] for f in fields if f["kind"] == "optional"]
    variants = row.get("variants", {})
    if not isinstance(variants, dict):
        fail(row, "`variants` is a table: variants.<tail> = [ { when, name, args[, inline] }, ... ]")
    tails = {f["name"]: f for f in fields if f["kind"] == "variant"}
    for t in variants:
        if t not in tails:
            fail(row, f"`variants.{t}` names no variant tail ({t}{{key}}) of `args`")
    row_inline = parse_inline(row, row["inline"], "inline", scalars) if "inline" in row else None
    for t, f in tails.items():
        vlist = variants.get(t)
        if not isinstance(vlist, list) or not vlist:
            fail(row, f"the variant tail {t}{{{f['key']}}} needs `variants.{t}`: a list of "
                      "{ when, name, args[, inline] }")
        seen_when, seen_names, f["variants"] = {}, set(), []
        for v in vlist:
            if not isinstance(v, dict) or set(v) - VARIANT_KEYS or not {"when", "name", "args"} <= set(v):
                fail(row, f"variants.{t}: each variant is a table {{ when, name, args[, inline] }}")
            vname = v["name"]
            where = f"variants.{t} {vname!r}"
            if not isinstance(vname, str) or not IDENT_RE.fullmatch(vname):
                fail(row, f"{where}: a variant's name must be a lower_case C identifier")
            if vname in seen_names or vname in member_names:
                fail(row, f"{where}: the variant's name repeats another name of the row")
            seen_names.add(vname)
            when = v["when"] if isinstance(v["when"], list) else [v["when"]]
            if not when:
                fail(row, f"{where}: `when` lists no value of {f['key']}")
            for w in when:
                if not isinstance(w, int) or isinstance(w, bool) or not 0 <= w < 1 << 64:
                    fail(row, f"{where}: `when` values are integers 0..2^64-1 (values of {f['key']})")
                if w in seen_when:
                    fail(row, f"{where}: {f['key']} = {w} is already variant {seen_when[w]!r}")
                seen_when[w] = vname
            vfields, vscalars = parse_fields(row, v["args"], scalars, where, False, f"out.{vname}.")
            vfields = [dict(x) for x in vfields]
            vinline = None
            if "inline" in v:
                if row_inline is not None:
                    fail(row, f"{where}: inline data is declared for the row and for a variant; declare it once")
                vinline = parse_inline(row, v["inline"], f"{where} inline", vscalars)
                if vinline["name"] in [x["name"] for x in vfields]:
                    fail(row, f"{where}: the inline name repeats an argument name")
            f["variants"].append({"name": vname, "when": when, "fields": vfields, "scalars": vscalars,
                                  "inline": vinline})
        member_names += list(seen_names)
    if "open_tail" in row and not any(f["kind"] == "rest" for f in fields):
        fail(row, "`open_tail` says why an open tail (name[]) has no declared layout; this row has none")
    segments = parse_segments(row, row["segments"], scalars) if "segments" in row else []
    if row_inline is not None:
        member_names.append(row_inline["name"])
    for s in segments:
        member_names.append(s["name"] + "_bytes")
        if s["optional"]:
            member_names.append("has_" + s["name"])
    if len(set(member_names)) != len(member_names):
        dup = sorted({n for n in member_names if member_names.count(n) > 1})
        fail(row, f"an argument or handle name repeats ({', '.join(dup)})")
    return {"fields": fields, "inline": row_inline, "segments": segments, "max_count": max_count}


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


def c_string(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def struct_members(fields, inline, segments):
    out = []
    for f in fields:
        k, n = f["kind"], f["name"]
        if k == "scalar":
            out.append(f"uint64_t {n} = 0;")
        elif k == "optional":
            out.append(f"uint64_t {n} = 0; bool has_{n} = false;")
        elif k == "variant":
            for v in f["variants"]:
                inner = " ".join(struct_members(v["fields"], v["inline"], []))
                out.append(f"struct {{ {inner} }} {v['name']};".replace("{  }", "{}"))
        else:
            out.append(f"std::span<const uint64_t> {n};")
    if inline is not None:
        out.append(f"{'std::string_view' if inline['text'] else 'std::span<const std::byte>'} {inline['name']};")
    for s in segments:
        out.append(f"uint64_t {s['name']}_bytes = 0;")
        if s["optional"]:
            out.append(f"bool has_{s['name']} = false;")
    return out


def gen_server_decls(rows):
    lines = [HEADER, "// Included inside class Worker (worker.h): one handler per pass-through row."]
    for r in passthrough(rows):
        lines.append(f"CUresult gen_{r['name']}(Ctx& c);")
    lines.append("// The typed arguments of hook rows (calls.toml `args`, `variants`, `inline`, `segments`) and their")
    lines.append("// decoders: false (logged, naming the row) when the call does not have exactly that shape.")
    lines.append("static bool decode_refused(const Ctx& c, const char* why);")
    for r in typed_hooks(rows):
        lay = parse_layout(r)
        fields = " ".join(struct_members(lay["fields"], lay["inline"], lay["segments"]))
        lines.append(f"struct {r['name']}Args {{ {fields} }};".replace("{  }", "{}"))
        lines.append(f"static bool decode_args(const Ctx& c, {r['name']}Args& out);")
    return "\n".join(lines) + "\n"


def size_check(terms, value):
    """C++ that is true when `value` is not the size expression's value (or that overflows)."""
    if len(terms) == 1 and len(terms[0]) == 1:
        return f"{value} != {terms[0][0]}"
    return f"uint64_t need = 0; !size_expr({size_call(terms)}, need) || {value} != need"


def size_call(terms):
    return "{" + ", ".join("{" + ", ".join(t) + "}" for t in terms) + "}"


def size_text(terms):
    return " + ".join(" * ".join(f.replace("out.", "") for f in t) for t in terms)


def emit_inline(lines, row, inline, prefix, ind):
    """The checks of declared inline data (or, with inline None, that there is none)."""
    name = row["name"]
    if inline is None:
        lines.append(f"{ind}if (!c.inline_bytes().empty()) return decode_refused(c, "
                     f"{c_string(f'{name}: inline data, which this layout does not have')});")
        return
    n = inline["name"]
    imax, imin, inline_size = inline["max"], inline["min"], inline.get("size")
    if isinstance(imax, str):
        lines.append(f"{ind}static_assert({imax} <= {MAX_INLINE}, {c_string(f'{name}: inline {n} bound over a frame')});")
    lines.append(f"{ind}const std::span<const std::byte> in = c.inline_bytes();")
    lines.append(f"{ind}if (in.size() > {imax}) return decode_refused(c, "
                 f"{c_string(f'{name}: inline {n} over its bound of {imax} bytes')});")
    if inline["min"] > 0:
        lines.append(f"{ind}if (in.size() < {inline['min']}) return decode_refused(c, "
                     f"{c_string(f'{name}: inline {n} shorter than {imin} bytes')});")
    if "size" in inline:
        lines.append(f"{ind}if ({size_check(inline_size, 'in.size()')}) "
                     f"return decode_refused(c, {c_string(f'{name}: the length of inline {n} is not {size_text(inline_size)}')});")
    if "each" in inline:
        each = size_text(inline["each"])
        lines.append(f"{ind}if (in.size() % ({each}) != 0) return decode_refused(c, "
                     f"{c_string(f'{name}: inline {n} is not whole records of {each} bytes')});")
    if inline["text"]:
        lines.append(f"{ind}{prefix}{n} = std::string_view(reinterpret_cast<const char*>(in.data()), in.size());")
    else:
        lines.append(f"{ind}{prefix}{n} = in;")


def emit_segments(lines, row, segments):
    name = row["name"]
    required = sum(1 for s in segments if not s["optional"])
    total = len(segments)
    if total == 0:
        lines.append(f"  if (!c.segments.empty()) return decode_refused(c, "
                     f"{c_string(f'{name}: segments, which this layout does not have')});")
        return
    if required == total:
        cond = f"c.segments.size() != {total}"
    elif required == 0:
        cond = f"c.segments.size() > {total}"
    else:
        cond = f"c.segments.size() < {required} || c.segments.size() > {total}"
    want = f"{total}" if required == total else f"{required} to {total}"
    lines.append(f"  if ({cond}) return decode_refused(c, {c_string(f'{name}: not {want} segment(s)')});")
    for i, s in enumerate(segments):
        n = s["name"]
        smin, smax, seg_size = s["min"], s["max"], s.get("size")
        ind = "  "
        if s["optional"]:
            lines.append(f"  if (c.segments.size() > {i}) {{")
            ind = "    "
        lines.append(f"{ind}const uint64_t seg{i} = c.segments[{i}];")
        if s["max"] < MAX_SEGMENT or s["min"] > 0:
            conds = []
            if s["min"] > 0:
                conds.append(f"seg{i} < {s['min']}")
            if s["max"] < MAX_SEGMENT:
                conds.append(f"seg{i} > {s['max']}")
            lines.append(f"{ind}if ({' || '.join(conds)}) return decode_refused(c, "
                         f"{c_string(f'{name}: segment {n} outside {smin}..{smax} bytes')});")
        if "size" in s:
            lines.append(f"{ind}if ({size_check(seg_size, f'seg{i}')}) "
                         f"return decode_refused(c, {c_string(f'{name}: the length of segment {n} is not {size_text(seg_size)}')});")
        lines.append(f"{ind}out.{n}_bytes = seg{i};")
        if s["optional"]:
            lines.append(f"{ind}out.has_{n} = true;")
            lines.append("  }")


def emit_fields(lines, row, fields, prefix, max_count, ind, variant_inline=False):
    name = row["name"]
    short = c_string(f"{name}: args[] shorter than its layout")
    for f in fields:
        k, n = f["kind"], f["name"]
        if k == "scalar":
            lines.append(f"{ind}if (at >= a.size()) return decode_refused(c, {short});")
            lines.append(f"{ind}{prefix}{n} = a[at++];")
        elif k == "optional":
            lines.append(f"{ind}if (at < a.size()) {{")
            lines.append(f"{ind}  {prefix}{n} = a[at++];")
            lines.append(f"{ind}  {prefix}has_{n} = true;")
            lines.append(f"{ind}}}")
        elif k == "array":
            count, per, fcount = f["count_expr"], f["per"], f["count"]
            need = count + (f" * {per}" if per != 1 else "")
            lines.append(f"{ind}if ({count} > {max_count} || {need} > a.size() - at) return decode_refused(c, "
                         f"{c_string(f'{name}: {n}[{fcount}] over its bound of {max_count} or past the end of args[]')});")
            lines.append(f"{ind}{prefix}{n} = a.subspan(at, {need});")
            lines.append(f"{ind}at += {need};")
        elif k == "tuples":
            per = f["per"]
            lines.append(f"{ind}if ((a.size() - at) % {per} != 0 || (a.size() - at) / {per} > {max_count}) "
                         f"return decode_refused(c, {c_string(f'{name}: {n} is not whole {per}-word tuples, at most {max_count}')});")
            lines.append(f"{ind}{prefix}{n} = a.subspan(at);")
            lines.append(f"{ind}at = a.size();")
        elif k == "rest":
            lines.append(f"{ind}{prefix}{n} = a.subspan(at);")
            lines.append(f"{ind}at = a.size();")
        elif k == "variant":
            key = f["key"]
            lines.append(f"{ind}switch ({prefix}{key}) {{")
            for v in f["variants"]:
                for w in v["when"]:
                    lines.append(f"{ind}  case {w}u:")
                lines.append(f"{ind}  {{  // {v['name']}")
                emit_fields(lines, row, v["fields"], f"{prefix}{v['name']}.", max_count, ind + "    ")
                if variant_inline:  # some variant has inline data: each one checks its own
                    emit_inline(lines, row, v["inline"], f"{prefix}{v['name']}.", ind + "    ")
                lines.append(f"{ind}    break;")
                lines.append(f"{ind}  }}")
            kinds = ", ".join(str(w) for v in f["variants"] for w in v["when"])
            lines.append(f"{ind}  default:")
            lines.append(f"{ind}    return decode_refused(c, {c_string(f'{name}: {key} is none of {kinds}')});")
            lines.append(f"{ind}}}")


def gen_decoders(rows):
    lines = ["// Why a decoder refused a call (a malformed or forged call: the handler answers",
             "// CUDA_ERROR_INVALID_VALUE); `why` names the row.",
             "bool Worker::decode_refused(const Ctx& c, const char* why) {",
             "  log::logger(\"worker\").warn(\"refused a call: {}; CUDA_ERROR_INVALID_VALUE\", why);",
             "  (void)c;",
             "  return false;",
             "}", "",
             "namespace {",
             "// The value of a calls.toml size expression (a sum of products); false when it overflows.",
             "[[maybe_unused]] bool size_expr(std::initializer_list<std::initializer_list<uint64_t>> terms, uint64_t& out) {",
             "  out = 0;",
             "  for (const auto& term : terms) {",
             "    uint64_t p = 1;",
             "    for (const uint64_t f : term) {",
             "      if (__builtin_mul_overflow(p, f, &p)) return false;",
             "    }",
             "    if (__builtin_add_overflow(out, p, &out)) return false;",
             "  }",
             "  return true;",
             "}",
             "}  // namespace", ""]
    for r in typed_hooks(rows):
        args, handles = r["args"], r.get("handles", [])
        lay = parse_layout(r)
        fields = lay["fields"]
        what = f"args [{', '.join(args)}]" + (f"; handles [{', '.join(handles)}]" if handles else "")
        if lay["inline"] is not None:
            what += f"; inline {lay['inline']['name']}"
        if lay["segments"]:
            what += f"; segments [{', '.join(s['name'] for s in lay['segments'])}]"
        lines += [f"// calls.toml row {r['name']} (op {r['op']}): {what}.",
                  f"bool Worker::decode_args(const Ctx& c, {r['name']}Args& out) {{"]
        name = r["name"]
        has_variant_inline = any(v["inline"] is not None for f in fields if f["kind"] == "variant"
                                 for v in f["variants"])
        if all(f["kind"] == "scalar" for f in fields):
            lines.append(f"  if (c.arg_count() != {len(args)} || c.handle_count() > {len(handles)}) return decode_refused(c, "
                         f"{c_string(f'{name}: not {len(args)} args[] and at most {len(handles)} handles')});")
            lines += [f"  out.{f['name']} = c.arg({i});" for i, f in enumerate(fields)]
        else:
            lines += [f"  if (c.handle_count() > {len(handles)}) return decode_refused(c, "
                      f"{c_string(f'{name}: more than {len(handles)} handles')});",
                      "  const std::span<const uint64_t> a = c.args();",
                      "  size_t at = 0;"]
            emit_fields(lines, r, fields, "out.", lay["max_count"], "  ", has_variant_inline)
            lines.append(f"  if (at != a.size()) return decode_refused(c, {c_string(f'{name}: args[] longer than its layout')});")
        if not has_variant_inline:
            emit_inline(lines, r, lay["inline"], "out.", "  ")
        emit_segments(lines, r, lay["segments"])
        if not fields and lay["inline"] is None and not lay["segments"]:
            lines.append("  (void)out;")
        lines += ["  return true;", "}", ""]
    return lines


def gen_server(rows, decls):
    lines = [HEADER, "#include <cstring>", "#include <initializer_list>", "", '#include "gpool/common/log.h"', '#include "worker.h"', "", "namespace gpool::server {", "",
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
    lines += gen_decoders(rows)
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
        else:
            body.append("  if (!c.inline_bytes().empty()) return CUDA_ERROR_INVALID_VALUE;")
        body.append("  if (!c.segments.empty()) return CUDA_ERROR_INVALID_VALUE;")
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
