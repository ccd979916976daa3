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
        self.assertIn("if (c.arg_count() != 2 || c.handle_count() > 1) return false;", body)
        self.assertIn("out.pool = c.arg(0);", body)
        self.assertIn("out.bytes = c.arg(1);", body)

    def test_counted_arrays(self):
        row = ('[[call]]\nname = "Deps"\nop = 300\nkind = "sync"\nhook = "op_x(c)"\n'
               'args = ["graph", "n", "deps[n]", "k", "pairs[k*2]", "kind", "tail[]"]\n'
               'handles = ["stream"]\nmax_count = 64\n')
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
        self.assertIn("if (c.handle_count() > 1) return false;", body)
        self.assertIn("if (out.n > 64 || out.n > a.size() - at) return false;", body)
        self.assertIn("out.deps = a.subspan(at, out.n);", body)
        self.assertIn("if (out.k > 64 || out.k * 2 > a.size() - at) return false;", body)
        self.assertIn("out.pairs = a.subspan(at, out.k * 2);", body)
        self.assertIn("if (at >= a.size()) return false;\n  out.kind = a[at++];", body)
        self.assertIn("out.tail = a.subspan(at);", body)
        self.assertTrue(body.endswith("return at == a.size();"), body)

    def test_counted_array_exact_length(self):
        # Without an open tail, args[] must hold exactly the fixed fields plus the counted ones.
        row = ('[[call]]\nname = "Deps"\nop = 300\nkind = "sync"\nhook = "op_x(c)"\n'
               'args = ["graph", "n", "deps[n]", "flags"]\n')
        rc, err, made = run(row, "server")
        self.assertEqual(rc, 0, err)
        server = made["server"]
        start = server.index("bool Worker::decode_args(const Ctx& c, DepsArgs& out) {")
        body = server[start:server.index("\n}\n", start)]
        self.assertIn("if (out.n > 4096 || out.n > a.size() - at) return false;", body)  # the default bound
        self.assertIn("out.flags = a[at++];", body)
        self.assertTrue(body.endswith("return at == a.size();"), body)
        self.assertNotIn("subspan(at);", body)

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
        self.expect_failure(hook + 'args = ["rest[]", "n"]\n', "must be the last argument", mode="enum")
        self.expect_failure(hook + 'args = ["n", "n[n]"]\n', "an argument or handle name repeats", mode="enum")
        self.expect_failure(hook + 'args = ["n", "deps[n]"]\nmax_count = 0\n', "`max_count` must be", mode="enum")
        self.expect_failure(hook + 'max_count = 8\n', "this row has no `args`", mode="enum")

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
