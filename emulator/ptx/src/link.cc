// PTX linking over the AST (see link.h for the rules).
#include "gpool/emu/ptx/link.h"

#include <cstdlib>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

namespace gpool::emu::ptx {
namespace {

using Renames = std::unordered_map<std::string, std::string>;

bool fn_defined(const Function& f) { return !f.is_extern && !f.body.empty(); }
bool var_defined(const VarDecl& v) { return !v.is_extern; }

void rename_operand(Operand& o, const Renames& r, const std::unordered_set<std::string>& locals) {
  if (o.kind == Operand::Kind::Symbol || (o.kind == Operand::Kind::Address && o.base_is_symbol)) {
    if (!locals.count(o.name)) {
      auto it = r.find(o.name);
      if (it != r.end()) o.name = it->second;
    }
  }
  for (Operand& e : o.elems) rename_operand(e, r, locals);
}

void rename_var(VarDecl& v, const Renames& r) {
  auto it = r.find(v.name);
  if (it != r.end()) v.name = it->second;
  for (InitReloc& rel : v.relocs) {
    auto t = r.find(rel.symbol);
    if (t != r.end()) rel.symbol = t->second;
  }
}

void rename_unit(Module& m, const Renames& r) {
  if (r.empty()) return;
  for (VarDecl& g : m.globals) rename_var(g, r);
  for (Function& f : m.functions) {
    auto it = r.find(f.name);
    if (it != r.end()) f.name = it->second;
    std::unordered_set<std::string> locals;
    for (const VarDecl& p : f.params) locals.insert(p.name);
    for (const VarDecl& p : f.returns) locals.insert(p.name);
    for (const Statement& s : f.body)
      if (s.kind == Statement::Kind::Decl) locals.insert(s.decl.name);
    for (Statement& s : f.body) {
      if (s.kind == Statement::Kind::Instr) {
        for (Operand& o : s.instr.operands) rename_operand(o, r, locals);
      } else if (s.kind == Statement::Kind::Decl) {
        for (InitReloc& rel : s.decl.relocs) {
          auto t = r.find(rel.symbol);
          if (t != r.end() && !locals.count(rel.symbol)) rel.symbol = t->second;
        }
      }
    }
  }
}

int target_sm(const std::string& target) {
  if (target.rfind("sm_", 0) != 0) return 0;
  return std::atoi(target.c_str() + 3);
}

}  // namespace

bool link(std::vector<Module> units, Module* out, std::string* error) {
  std::string local;
  std::string* err = error ? error : &local;
  *out = Module{};
  if (units.empty()) {
    *err = "nothing to link: no input holds PTX";
    return false;
  }
  // Pass 1: which unit owns each global name (a visible definition), and which names each unit uses.
  struct Owner {
    size_t unit;
    bool weak;
  };
  std::map<std::string, Owner> owner;                 // visible definitions
  std::map<std::string, size_t> first_user;           // any top-level name: the first unit using it
  for (size_t u = 0; u < units.size(); ++u) {
    auto claim = [&](const std::string& name, bool defined, bool visible, bool weak) -> bool {
      first_user.emplace(name, u);
      if (!defined || !visible) return true;
      auto it = owner.find(name);
      if (it == owner.end()) {
        owner.emplace(name, Owner{u, weak});
        return true;
      }
      if (it->second.unit == u) return true;  // a prototype and its definition in one unit
      if (!it->second.weak && !weak) {
        *err = "multiple definition of '" + name + "' (unit " + std::to_string(it->second.unit) + " and unit " +
               std::to_string(u) + ")";
        return false;
      }
      if (it->second.weak && !weak) it->second = Owner{u, false};
      return true;
    };
    for (const VarDecl& g : units[u].globals)
      if (!claim(g.name, var_defined(g), g.is_visible || g.is_weak, g.is_weak)) return false;
    for (const Function& f : units[u].functions)
      if (!claim(f.name, fn_defined(f), f.is_visible || f.is_weak, f.is_weak)) return false;
  }
  // Pass 2: local definitions whose name another unit also uses get a unit suffix.
  std::vector<Renames> renames(units.size());
  for (size_t u = 0; u < units.size(); ++u) {
    std::set<std::string> locals;
    for (const VarDecl& g : units[u].globals)
      if (var_defined(g) && !g.is_visible && !g.is_weak) locals.insert(g.name);
    for (const Function& f : units[u].functions)
      if (fn_defined(f) && !f.is_visible && !f.is_weak) locals.insert(f.name);
    for (const std::string& n : locals) {
      if (owner.count(n) || first_user.at(n) != u) renames[u][n] = n + "$gpool_u" + std::to_string(u);
    }
  }
  for (size_t u = 0; u < units.size(); ++u) rename_unit(units[u], renames[u]);
  // Every definition now has a unique name, except visible ones defined in several units
  // (weak): the owner's copy is kept.
  std::set<std::string> defined;
  for (size_t u = 0; u < units.size(); ++u) {
    for (const VarDecl& g : units[u].globals)
      if (var_defined(g)) defined.insert(g.name);
    for (const Function& f : units[u].functions)
      if (fn_defined(f)) defined.insert(f.name);
  }
  Module& m = *out;
  m.address_size = units[0].address_size;
  std::set<std::string> emitted_decls;
  for (size_t u = 0; u < units.size(); ++u) {
    Module& in = units[u];
    if (in.address_size != m.address_size) {
      *err = "unit " + std::to_string(u) + " has .address_size " + std::to_string(in.address_size) + ", unit 0 " +
             std::to_string(m.address_size);
      return false;
    }
    if (in.version_major > m.version_major ||
        (in.version_major == m.version_major && in.version_minor > m.version_minor)) {
      m.version_major = in.version_major;
      m.version_minor = in.version_minor;
    }
    if (m.target.empty() || target_sm(in.target) > target_sm(m.target)) {
      m.target = in.target;
      m.target_options = in.target_options;
    }
    auto keep = [&](const std::string& name, bool is_def, bool visible) {
      if (is_def) {
        if (!visible) return true;
        auto it = owner.find(name);
        return it == owner.end() || it->second.unit == u;
      }
      // A declaration: only when nothing defines the name, and once.
      return !defined.count(name) && emitted_decls.insert(name).second;
    };
    for (VarDecl& g : in.globals)
      if (keep(g.name, var_defined(g), g.is_visible || g.is_weak)) m.globals.push_back(std::move(g));
    for (Function& f : in.functions)
      if (keep(f.name, fn_defined(f), f.is_visible || f.is_weak)) m.functions.push_back(std::move(f));
  }
  return true;
}

}  // namespace gpool::emu::ptx
