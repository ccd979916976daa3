// Flattens nested { } blocks of a function body (see ast.h):
//  1. count every declaration in the function (params, returns, .reg/.local/
//     .shared/.param at any depth, labels), expanding %r<N> ranges lazily;
//  2. give each block a rename table: an inner-block name declared more than
//     once in the function, or shadowing a module-scope name, becomes
//     "<name>$<n>"; an inner %r<N> range with any such collision is expanded
//     into single declarations;
//  3. rewrite every use inside the block (registers, pipes, guards, symbols,
//     address bases, vector elements) through the tables of the enclosing blocks.
// Finally bare names of labels and call prototypes become Label operands.
#include "parser_impl.h"

#include <map>

namespace gpool::emu::ptx::detail {
namespace {

struct Range {
  std::string prefix;
  uint32_t count;
};

class Declared {
 public:
  void add(const VarDecl& d) {
    if (d.count > 0) {
      ranges_.push_back({d.name, d.count});
    } else {
      ++singles_[d.name];
    }
  }
  void add(const std::string& name) { ++singles_[name]; }

  // How many declarations declare `name`.
  int count(const std::string& name) const {
    int n = 0;
    if (auto it = singles_.find(name); it != singles_.end()) n += it->second;
    for (const Range& r : ranges_) {
      if (name.size() <= r.prefix.size() || name.compare(0, r.prefix.size(), r.prefix) != 0) continue;
      std::string_view digits(name.data() + r.prefix.size(), name.size() - r.prefix.size());
      if (digits.size() > 1 && digits[0] == '0') continue;
      uint64_t v = 0;
      bool ok = true;
      for (char c : digits) {
        if (c < '0' || c > '9' || v > 1u << 30) {
          ok = false;
          break;
        }
        v = v * 10 + static_cast<uint64_t>(c - '0');
      }
      if (ok && v < r.count) ++n;
    }
    return n;
  }

 private:
  std::map<std::string, int> singles_;
  std::vector<Range> ranges_;
};

using Table = std::map<std::string, std::string>;

void rename_operand(Operand& o, const std::vector<const Table*>& scopes) {
  auto lookup = [&](std::string& name) {
    for (auto it = scopes.rbegin(); it != scopes.rend(); ++it) {
      auto f = (*it)->find(name);
      if (f != (*it)->end()) {
        name = f->second;
        return;
      }
    }
  };
  switch (o.kind) {
    case Operand::Kind::Register:
      lookup(o.name);
      if (!o.pipe.empty()) lookup(o.pipe);
      break;
    case Operand::Kind::Symbol:  // a bare register name may carry a pipe: "r0|p" (CUB's inline asm)
      if (!o.name.empty()) lookup(o.name);
      if (!o.pipe.empty()) lookup(o.pipe);
      break;
    case Operand::Kind::Label:
    case Operand::Kind::Address:
      if (!o.name.empty()) lookup(o.name);
      break;
    case Operand::Kind::Vector:
    case Operand::Kind::TexAddress:
      for (Operand& e : o.elems) rename_operand(e, scopes);
      break;
    default:
      break;
  }
}

// Bare names: labels and prototypes become Label, names declared by .reg
// (without a '%') become Register; address bases naming a register too.
void classify(Operand& o, const std::set<std::string>& labels, const Declared& regs) {
  if (o.kind == Operand::Kind::Symbol) {
    if (labels.count(o.name)) {
      o.kind = Operand::Kind::Label;
    } else if (regs.count(o.name) > 0) {
      o.kind = Operand::Kind::Register;
    }
  }
  if (o.kind == Operand::Kind::Address && o.base_is_symbol && regs.count(o.name) > 0) o.base_is_symbol = false;
  if (o.kind == Operand::Kind::Vector || o.kind == Operand::Kind::TexAddress)
    for (Operand& e : o.elems) classify(e, labels, regs);
}

}  // namespace

void flatten_body(std::vector<RawItem> items, const std::set<std::string>& module_names,
                  const std::set<std::string>& prototypes, Function* fn) {
  Declared declared;
  for (const VarDecl& p : fn->params) declared.add(p);
  for (const VarDecl& r : fn->returns) declared.add(r);
  for (const RawItem& it : items) {
    if (it.kind != RawItem::Kind::Stmt) continue;
    if (it.stmt.kind == Statement::Kind::Decl) declared.add(it.stmt.decl);
    if (it.stmt.kind == Statement::Kind::Label) declared.add(it.stmt.label);
  }
  auto collides = [&](const std::string& name) {
    return declared.count(name) > 1 || module_names.count(name) > 0 || prototypes.count(name) > 0;
  };

  // Pass 1: rename tables per block (block 0 = the body itself, never renamed).
  std::vector<Table> tables(1);
  std::vector<RawItem> out_items;
  out_items.reserve(items.size());
  {
    std::vector<size_t> stack{0};
    int counter = 0;
    for (RawItem& it : items) {
      if (it.kind == RawItem::Kind::Open) {
        tables.emplace_back();
        stack.push_back(tables.size() - 1);
        out_items.push_back(std::move(it));
        continue;
      }
      if (it.kind == RawItem::Kind::Close) {
        stack.pop_back();
        out_items.push_back(std::move(it));
        continue;
      }
      Table& table = tables[stack.back()];
      const bool inner = stack.size() > 1;
      if (inner && it.stmt.kind == Statement::Kind::Label && collides(it.stmt.label)) {
        std::string renamed = it.stmt.label + "$" + std::to_string(counter++);
        table[it.stmt.label] = renamed;
        it.stmt.label = renamed;
      }
      if (inner && it.stmt.kind == Statement::Kind::Decl) {
        VarDecl& d = it.stmt.decl;
        if (d.count == 0) {
          if (collides(d.name)) {
            std::string renamed = d.name + "$" + std::to_string(counter++);
            table[d.name] = renamed;
            d.name = renamed;
          }
        } else {
          bool any = false;
          for (uint32_t k = 0; k < d.count && !any; ++k) any = collides(d.name + std::to_string(k));
          if (any) {
            // Expand the range into single declarations, renaming the colliding ones.
            for (uint32_t k = 0; k < d.count; ++k) {
              RawItem single;
              single.stmt.kind = Statement::Kind::Decl;
              single.stmt.decl = d;
              single.stmt.decl.count = 0;
              std::string name = d.name + std::to_string(k);
              if (collides(name)) {
                std::string renamed = name + "$" + std::to_string(counter++);
                table[name] = renamed;
                name = renamed;
              }
              single.stmt.decl.name = name;
              out_items.push_back(std::move(single));
            }
            continue;
          }
        }
      }
      out_items.push_back(std::move(it));
    }
  }

  // Pass 2: rewrite uses and drop the block markers.
  std::set<std::string> labels = prototypes;
  std::vector<const Table*> scopes{&tables[0]};
  size_t next_block = 1;
  fn->body.clear();
  fn->body.reserve(out_items.size());
  for (RawItem& it : out_items) {
    if (it.kind == RawItem::Kind::Open) {
      scopes.push_back(&tables[next_block++]);
      continue;
    }
    if (it.kind == RawItem::Kind::Close) {
      scopes.pop_back();
      continue;
    }
    if (it.stmt.kind == Statement::Kind::Instr) {
      Instruction& in = it.stmt.instr;
      if (in.guard) {
        Operand g;
        g.kind = Operand::Kind::Register;
        g.name = *in.guard;
        rename_operand(g, scopes);
        in.guard = g.name;
      }
      for (Operand& o : in.operands) rename_operand(o, scopes);
    }
    if (it.stmt.kind == Statement::Kind::Label) labels.insert(it.stmt.label);
    fn->body.push_back(std::move(it.stmt));
  }
  Declared regs;
  for (const VarDecl& p : fn->params)
    if (p.space == Space::Reg) regs.add(p);
  for (const VarDecl& p : fn->returns)
    if (p.space == Space::Reg) regs.add(p);
  for (const Statement& s : fn->body)
    if (s.kind == Statement::Kind::Decl && s.decl.space == Space::Reg) regs.add(s.decl);
  for (Statement& s : fn->body)
    if (s.kind == Statement::Kind::Instr)
      for (Operand& o : s.instr.operands) classify(o, labels, regs);
}

}  // namespace gpool::emu::ptx::detail
