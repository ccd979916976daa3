#!/usr/bin/env python3
"""Tests of protocol/calls/gen_calls.py: the real table generates every output, hook rows that
name their arguments get a typed, length-checked decoder, and a row with no generated layout
fails with a message that names the row (and generates nothing)."""
import argparse
import os
import subprocess
import sys
import tempfile
import unittest

ARGS = None

GOOD_ROW = '''
[[call]]
name = "CtxGetLimit"
op = 200
kind = "sync"
symbols = ["cuCtxGetLimit"]
params = ["out", "scalar"]
'''


def run(table_text, *outputs):
    with tempfile.TemporaryDirectory() as d:
        table = os.path.join(d, "calls.toml")
        with open(table, "w") as f:
            f.write(table_text)
        cmd = [sys.executable, ARGS.generator, "--table", table, "--decls", ARGS.decls]
        for mode in outputs:
            cmd += [f"--{mode}", os.path.join(d, mode + ".out")]
        p = subprocess.run(cmd, capture_output=True, text=True)
        made = {}
        for m in outputs:
            path = os.path.join(d, m + ".out")
            if os.path.exists(path):
                with open(path) as f:
                    made[m] = f.read()
        return p.returncode, p.stderr, made


class RealTable(unittest.TestCase):
    def test_generates_every_output(self):
        with open(ARGS.table) as f:
            text = f.read()
        rc, err, made = run(text, "enum", "backend", "server-decls", "server", "shim", "forwarded")
        self.assertEqual(rc, 0, err)
        self.assertIn("MemcpyHtoD = 13,", made["enum"])
        self.assertIn("X(cuCtxGetLimit)", made["backend"])
        self.assertIn("X(cuMemcpyHtoD_v2)", made["backend"])
        self.assertIn("case Op::MemcpyHtoD: return op_memcpy_htod(c);", made["server"])
        self.assertIn("CUresult Worker::gen_CtxGetLimit(Ctx& c)", made["server"])
        self.assertIn('extern "C" CUresult gpool_impl_cuCtxGetLimit(size_t* pvalue, CUlimit limit)',
                      made["shim"])
        self.assertIn("cuProfilerStart\n", made["forwarded"])
        # Struct roles: the bytes travel in inline data, checked for size on the server.
        self.assertIn("if (c.inline_text().size() != sizeof(CUstreamAttrValue)) return CUDA_ERROR_INVALID_VALUE;",
                      made["server"])
        self.assertIn("c.inline_out.insert(", made["server"])
        # A pass-through row takes no segments, and inline data only for its struct parameters.
        start = made["server"].index("CUresult Worker::gen_CtxGetLimit(Ctx& c) {")
        body = made["server"][start:made["server"].index("\n}\n", start)]
        self.assertIn("  if (!c.inline_bytes().empty()) return CUDA_ERROR_INVALID_VALUE;\n"
                      "  if (!c.segments.empty()) return CUDA_ERROR_INVALID_VALUE;", body)
        self.assertIn("if (reply.inline_data.size() != sizeof(CUstreamAttrValue)) return CUDA_ERROR_UNKNOWN;",
                      made["shim"])

    def test_typed_hook_arguments(self):
        with open(ARGS.table) as f:
            text = f.read()
        rc, err, made = run(text, "server-decls", "server")
        self.assertEqual(rc, 0, err)
        self.assertIn("struct MemAllocPitchArgs { uint64_t width_bytes = 0; uint64_t height = 0; "
                      "uint64_t element_size = 0; };", made["server-decls"])
        self.assertIn("static bool decode_args(const Ctx& c, MemAllocPitchArgs& out);", made["server-decls"])
        self.assertIn("struct MemGetInfoArgs {};", made["server-decls"])
        server = made["server"]
        start = server.index("bool Worker::decode_args(const Ctx& c, MemAllocFromPoolArgs& out) {")
        body = server[start:server.index("\n}\n", start)]
        self.assertIn('if (c.arg_count() != 2 || c.handle_count() > 1) return decode_refused(c, "MemAllocFromPool: ',
                      body)
        # A row that declares no inline data or segments refuses a call that carries any.
        self.assertIn('if (!c.inline_bytes().empty()) return decode_refused(c, "MemAllocFromPool: inline data', body)
        self.assertIn('if (!c.segments.empty()) return decode_refused(c, "MemAllocFromPool: segments', body)
        self.assertIn("out.pool = c.arg(0);", body)
        self.assertIn("out.bytes = c.arg(1);", body)

    def test_counted_arrays(self):
        row = ('[[call]]\nname = "Deps"\nop = 300\nkind = "sync"\nhook = "op_x(c)"\n'
               'args = ["graph", "n", "deps[n]", "k", "pairs[k*2]", "kind", "tail[]"]\n'
               'handles = ["stream"]\nmax_count = 64\nopen_tail = "a test of the unchecked tail"\n')
        rc, err, made = run(row, "server-decls", "server")
        self.assertEqual(rc, 0, err)
        self.assertIn("struct DepsArgs { uint64_t graph = 0; uint64_t n = 0; std::span<const uint64_t> deps; "
                      "uint64_t k = 0; std::span<const uint64_t> pairs; uint64_t kind = 0; "
                      "std::span<const uint64_t> tail; };", made["server-decls"])
        server = made["server"]
        start = server.index("bool Worker::decode_args(const Ctx& c, DepsArgs& out) {")
        body = server[start:server.index("\n}\n", start)]
        # Each count is bounded by the row's max_count and by what args[] still holds, before
        # the span is taken; a fixed field past the end of args[] refuses the call.
        self.assertIn('if (c.handle_count() > 1) return decode_refused(c, "Deps: more than 1 handles");', body)
        self.assertIn("if (out.n > 64 || out.n > a.size() - at) return decode_refused(", body)
        self.assertIn("out.deps = a.subspan(at, out.n);", body)
        self.assertIn("if (out.k > 64 || out.k * 2 > a.size() - at) return decode_refused(", body)
        self.assertIn("out.pairs = a.subspan(at, out.k * 2);", body)
        self.assertIn('if (at >= a.size()) return decode_refused(c, "Deps: args[] shorter than its layout");\n'
                      '  out.kind = a[at++];', body)
        self.assertIn("out.tail = a.subspan(at);", body)
        self.assertIn('if (at != a.size()) return decode_refused(c, "Deps: args[] longer than its layout");', body)
        self.assertTrue(body.endswith("return true;"), body)

    def test_counted_array_exact_length(self):
        # Without an open tail, args[] must hold exactly the fixed fields plus the counted ones.
        row = ('[[call]]\nname = "Deps"\nop = 300\nkind = "sync"\nhook = "op_x(c)"\n'
               'args = ["graph", "n", "deps[n]", "flags"]\n')
        rc, err, made = run(row, "server")
        self.assertEqual(rc, 0, err)
        server = made["server"]
        start = server.index("bool Worker::decode_args(const Ctx& c, DepsArgs& out) {")
        body = server[start:server.index("\n}\n", start)]
        self.assertIn("if (out.n > 4096 || out.n > a.size() - at) return decode_refused(", body)  # the default bound
        self.assertIn("out.flags = a[at++];", body)
        self.assertIn("if (at != a.size()) return decode_refused(", body)
        self.assertNotIn("subspan(at);", body)

    def test_variants_tuples_optional_inline_segments(self):
        # A variant tail keyed by `kind`, a tuple tail, optional counted options, inline data with
        # a size expression, and segments: each gets a typed member and an exact check.
        rows = ('[[call]]\nname = "Node"\nop = 300\nkind = "sync"\nhook = "op_x(c)"\n'
                'args = ["graph", "kind", "n", "deps[n]", "params{kind}"]\nhandles = ["function"]\n'
                'variants.params = [\n'
                '  { when = 0, name = "kernel", args = ["gx", "shared"], inline = { name = "buf", max = 32764 } },\n'
                '  { when = [1, 2], name = "fill", args = ["dst", "k", "pairs[k*2]"] },\n'
                '  { when = 3, name = "none", args = [] },\n]\n'
                '[[call]]\nname = "Pairs"\nop = 301\nkind = "sync"\nhook = "op_y(c)"\n'
                'args = ["pool", "access[*2]"]\nmax_count = 8\n'
                '[[call]]\nname = "Load"\nop = 302\nkind = "sync"\nhook = "op_z(c)"\n'
                'args = ["bytes", "count", "jit_count?", "jit[jit_count*2]"]\nmax_count = 64\n'
                'inline = { name = "records", size = "count * 16 + 8", max = 4096 }\n'
                'segments = [{ name = "image", size = "bytes" }, { name = "extra", min = 1, max = 100, optional = true }]\n')
        rc, err, made = run(rows, "server-decls", "server")
        self.assertEqual(rc, 0, err)
        decls, server = made["server-decls"], made["server"]
        self.assertIn("struct NodeArgs { uint64_t graph = 0; uint64_t kind = 0; uint64_t n = 0; "
                      "std::span<const uint64_t> deps; struct { uint64_t gx = 0; uint64_t shared = 0; "
                      "std::span<const std::byte> buf; } kernel; struct { uint64_t dst = 0; uint64_t k = 0; "
                      "std::span<const uint64_t> pairs; } fill; struct {} none; };", decls)
        self.assertIn("struct PairsArgs { uint64_t pool = 0; std::span<const uint64_t> access; };", decls)
        self.assertIn("struct LoadArgs { uint64_t bytes = 0; uint64_t count = 0; uint64_t jit_count = 0; "
                      "bool has_jit_count = false; std::span<const uint64_t> jit; std::span<const std::byte> records; "
                      "uint64_t image_bytes = 0; uint64_t extra_bytes = 0; bool has_extra = false; };", decls)

        def body(name):
            start = server.index(f"bool Worker::decode_args(const Ctx& c, {name}Args& out) {{")
            return server[start:server.index("\n}\n", start)]
        node = body("Node")
        self.assertIn("switch (out.kind) {", node)
        self.assertIn("    case 1u:\n    case 2u:\n    {  // fill", node)
        self.assertIn("out.fill.pairs = a.subspan(at, out.fill.k * 2);", node)
        self.assertIn('return decode_refused(c, "Node: kind is none of 0, 1, 2, 3");', node)
        # Only the kernel kind may carry inline data; every other kind refuses it.
        self.assertIn('if (in.size() > 32764) return decode_refused(c, "Node: inline buf over its bound of 32764 bytes");',
                      node)
        self.assertIn("out.kernel.buf = in;", node)
        self.assertEqual(node.count('inline data, which this layout does not have'), 2)
        pairs = body("Pairs")
        self.assertIn("if ((a.size() - at) % 2 != 0 || (a.size() - at) / 2 > 8) return decode_refused(", pairs)
        load = body("Load")
        self.assertIn("if (at < a.size()) {\n    out.jit_count = a[at++];\n    out.has_jit_count = true;\n  }", load)
        self.assertIn("if (uint64_t need = 0; !size_expr({{out.count, 16}, {8}}, need) || in.size() != need) "
                      'return decode_refused(c, "Load: the length of inline records is not count * 16 + 8");', load)
        self.assertIn('if (c.segments.size() < 1 || c.segments.size() > 2) return decode_refused(c, '
                      '"Load: not 1 to 2 segment(s)");', load)
        self.assertIn("if (seg0 != out.bytes) return decode_refused(", load)
        self.assertIn("  if (c.segments.size() > 1) {\n    const uint64_t seg1 = c.segments[1];\n"
                      "    if (seg1 < 1 || seg1 > 100) return decode_refused(", load)
        self.assertIn("    out.has_extra = true;", load)

    def test_real_table_has_no_open_tail(self):
        # Every hook row of the real table declares its whole layout: no name[] is left.
        with open(ARGS.table) as f:
            text = f.read()
        self.assertNotIn('[]"', text.replace('args = []', ''))
        self.assertNotIn("open_tail", text.split("[[call]]", 1)[1])

    def test_unchanged_outputs_keep_their_time_stamps(self):
        with open(ARGS.table) as f:
            text = f.read()
        with tempfile.TemporaryDirectory() as d:
            table = os.path.join(d, "calls.toml")
            with open(table, "w") as f:
                f.write(text)
            out = os.path.join(d, "enum.out")
            cmd = [sys.executable, ARGS.generator, "--table", table, "--decls", ARGS.decls, "--enum", out]
            subprocess.run(cmd, check=True)
            os.utime(out, (1000, 1000))
            subprocess.run(cmd, check=True)
            self.assertEqual(os.stat(out).st_mtime, 1000, "an unchanged output was rewritten")


class BadRows(unittest.TestCase):
    def expect_failure(self, row, needle, mode="server"):
        rc, err, made = run(row, mode)
        self.assertEqual(rc, 1, err)
        self.assertIn("row Broken", err)
        self.assertIn(needle, err)
        self.assertEqual(made, {}, "nothing is written when a row fails")

    def test_unknown_role(self):
        self.expect_failure(GOOD_ROW.replace("CtxGetLimit", "Broken").replace('"out"', '"blob"'),
                            "role 'blob' has no generated layout")

    def test_type_without_layout(self):
        # cuMemcpyHtoD_v2's host pointer is `const void*`: no scalar layout for it.
        row = GOOD_ROW.replace("CtxGetLimit", "Broken").replace("cuBroken", "cuMemcpyHtoD_v2")
        row = row.replace('params = ["out", "scalar"]', 'params = ["scalar", "scalar", "scalar"]')
        self.expect_failure(row, "role scalar needs an integer or enum type")

    def test_parameter_count(self):
        row = GOOD_ROW.replace("CtxGetLimit", "Broken").replace("cuBroken", "cuCtxGetLimit")
        self.expect_failure(row.replace('["out", "scalar"]', '["out"]'),
                            "has 2 parameters, the row lists 1 roles")

    def test_duplicate_opcode(self):
        row = GOOD_ROW + GOOD_ROW.replace('name = "CtxGetLimit"', 'name = "Broken"').replace(
            "cuCtxGetLimit", "cuCtxSetLimit").replace('["out", "scalar"]', '["scalar", "scalar"]')
        self.expect_failure(row, "opcode 200 is already CtxGetLimit", mode="enum")

    def test_in_struct_needs_const_pointer(self):
        row = GOOD_ROW.replace("CtxGetLimit", "Broken").replace("cuBroken", "cuStreamGetAttribute")
        row = row.replace('["out", "scalar"]', '["stream", "scalar", "in_struct"]')
        self.expect_failure(row, "role in_struct needs a const pointer")

    def test_struct_role_needs_struct_type(self):
        # cuCtxGetLimit's size_t* is an integer out parameter, not a struct.
        row = GOOD_ROW.replace("CtxGetLimit", "Broken").replace("cuBroken", "cuCtxGetLimit")
        row = row.replace('["out", "scalar"]', '["out_struct", "scalar"]')
        self.expect_failure(row, "needs a pointer to a cuda.h struct or union")

    def test_async_out_struct(self):
        row = GOOD_ROW.replace("CtxGetLimit", "Broken").replace("cuBroken", "cuStreamGetAttribute")
        row = row.replace('["out", "scalar"]', '["stream", "scalar", "out_struct"]')
        self.expect_failure(row.replace('kind = "sync"', 'kind = "async"'), "cannot answer `out`/`out_struct`",
                            mode="enum")

    def test_hook_argument_names(self):
        hook = '[[call]]\nname = "Broken"\nop = 300\nkind = "sync"\nhook = "op_x(c)"\n'
        self.expect_failure(hook + 'args = ["Bytes"]\n', "must be a lower_case C identifier", mode="enum")
        self.expect_failure(hook + 'args = ["p", "p"]\n', "an argument or handle name repeats", mode="enum")
        self.expect_failure(hook + 'handles = ["stream"]\n', "`handles` goes with `args`", mode="enum")
        self.expect_failure(GOOD_ROW.replace("CtxGetLimit", "Broken").replace(
            "cuBroken", "cuCtxGetLimit") + 'args = ["limit"]\n', "a pass-through row has `params`", mode="enum")

    def test_counted_array_declarations(self):
        hook = '[[call]]\nname = "Broken"\nop = 300\nkind = "sync"\nhook = "op_x(c)"\n'
        self.expect_failure(hook + 'args = ["deps[n]", "n"]\n', "must be a scalar argument named before it",
                            mode="enum")
        self.expect_failure(hook + 'args = ["n", "deps[m]"]\n', "must be a scalar argument named before it",
                            mode="enum")
        self.expect_failure(hook + 'args = ["n", "a[n]", "b[a]"]\n', "must be a scalar argument named before it",
                            mode="enum")
        self.expect_failure(hook + 'args = ["n", "deps[n*0]"]\n', "name[count*k]", mode="enum")
        self.expect_failure(hook + 'args = ["n", "deps[n+1]"]\n', "name[count*k]", mode="enum")
        self.expect_failure(hook + 'args = ["rest[]", "n"]\nopen_tail = "t"\n', "must be the last argument", mode="enum")
        self.expect_failure(hook + 'args = ["n", "n[n]"]\n', "an argument or handle name repeats", mode="enum")
        self.expect_failure(hook + 'args = ["n", "deps[n]"]\nmax_count = 0\n', "`max_count` must be", mode="enum")
        self.expect_failure(hook + 'max_count = 8\n', "this row has no `args`", mode="enum")

    def test_layout_declarations(self):
        # Malformed variants, tuples, optional fields, inline data and segments stop the build,
        # naming the row.
        hook = '[[call]]\nname = "Broken"\nop = 300\nkind = "sync"\nhook = "op_x(c)"\n'
        node = hook + 'args = ["kind", "params{kind}"]\n'
        cases = [
            (node, "needs `variants.params`"),
            (node + 'variants.params = [{ when = 0, name = "a", args = [] }, { when = 0, name = "b", args = [] }]\n',
             "kind = 0 is already variant 'a'"),
            (node + 'variants.params = [{ when = 0, name = "a" }]\n', "each variant is a table"),
            (node + 'variants.params = [{ when = -1, name = "a", args = [] }]\n', "`when` values are integers"),
            (node + 'variants.params = [{ when = 0, name = "kind", args = [] }]\n', "repeats another name"),
            (node + 'variants.params = [{ when = 0, name = "a", args = ["x{kind}"] }]\n', "variants do not nest"),
            (node + 'variants.params = [{ when = 0, name = "a", args = ["kind"] }]\n', "name repeats (kind)"),
            (node + 'variants.params = [{ when = 0, name = "a", args = [], inline = { name = "b" } }]\n',
             "`inline` is a table"),
            (node + 'variants.params = [{ when = 0, name = "a", args = [] }]\nvariants.other = []\n',
             "`variants.other` names no variant tail"),
            (hook + 'args = ["params{kind}", "kind"]\n', "must be the last argument"),
            (hook + 'args = ["params{kind}"]\n', "the key of 'params{kind}' must be a scalar argument named before it"),
            (hook + 'args = ["rest[]"]\n', "has no declared layout"),
            (hook + 'args = ["n"]\nopen_tail = "why"\n', "this row has none"),
            (hook + 'args = ["pairs[*2]", "n"]\n', "the tuple tail 'pairs[*2]' must be the last argument"),
            (hook + 'args = ["n?", "m"]\n', "follows an optional argument"),
            (hook + 'args = ["n", "m?", "x[n]"]\n', "an array's count must be optional too"),
            (hook + 'args = []\ninline = { name = "b" }\n', "`inline` is a table"),
            (hook + 'args = []\ninline = { name = "b", max = 70000 }\n', "inline `max` must be an integer 1..65536"),
            (hook + 'args = []\ninline = { name = "b", max = 64, colour = 1 }\n', "`inline` is a table"),
            (hook + 'args = ["n"]\ninline = { name = "b", max = 64, size = "n", each = 4 }\n', "exclude each other"),
            (hook + 'args = ["n"]\ninline = { name = "b", max = 64, size = "m * 4" }\n', "names 'm', not a scalar"),
            (hook + 'args = ["n"]\ninline = { name = "b", max = 64, size = "n - 4" }\n', "is not an integer"),
            (hook + 'args = ["n"]\ninline = { name = "b", max = 64, each = "n" }\n', "is not an integer, sizeof(CUtype) ("),
            (hook + 'args = ["n"]\ninline = { name = "b", max = 64, min = 65 }\n', "inline `min` must be"),
            (hook + 'args = ["b"]\ninline = { name = "b", max = 64 }\n', "name repeats (b)"),
            (hook + 'args = ["image_bytes"]\nsegments = [{ name = "image" }]\n', "name repeats (image_bytes)"),
            (hook + 'args = []\nsegments = [{ name = "a", optional = true }, { name = "b" }]\n',
             "a required segment cannot follow an optional one"),
            (hook + 'args = []\nsegments = [{ name = "a", min = 9, max = 8 }]\n', "segment `min` is over its `max`"),
            (hook + 'args = []\nsegments = [{ name = "a", length = 8 }]\n', "a segment is a table"),
            (hook + 'args = []\nsegments = []\n', "`segments` is a non-empty list"),
            (hook + 'args = ["kind", "p{kind}"]\ninline = { name = "b", max = 8 }\n'
                    'variants.p = [{ when = 0, name = "a", args = [], inline = { name = "c", max = 8 } }]\n',
             "declared for the row and for a variant"),
            (GOOD_ROW.replace("CtxGetLimit", "Broken") + 'inline = { name = "b", max = 8 }\n',
             "`inline` belongs to a hook row's declared layout"),
        ]
        for row, needle in cases:
            with self.subTest(needle=needle):
                self.expect_failure(row, needle, mode="enum")

    def test_hook_row_without_args(self):
        # Every hook row declares its wire layout; one without `args` stops the build, named.
        hook = '[[call]]\nname = "Broken"\nop = 300\nkind = "sync"\nhook = "op_x(c)"\n'
        self.expect_failure(hook, "a hook row must declare its wire layout: `args`", mode="enum")
        rc, err, made = run(hook.replace("Broken", "Fine") + "args = []\n", "server-decls")
        self.assertEqual(rc, 0, err)
        self.assertIn("struct FineArgs {};", made["server-decls"])

    def test_unknown_symbol(self):
        row = GOOD_ROW.replace("CtxGetLimit", "Broken")  # symbol cuBroken does not exist
        self.expect_failure(row, "cuBroken is not a driver entry point")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--generator", required=True)
    ap.add_argument("--table", required=True)
    ap.add_argument("--decls", required=True)
    ARGS, rest = ap.parse_known_args()
    unittest.main(argv=[sys.argv[0]] + rest)
