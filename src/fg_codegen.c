/*
 * fg_codegen.c -- checked tree -> bytecode: short-circuit control flow.
 *
 * Booleans flow through control flow, as in Lua's code generator: compiling
 * an expression leaves its value in the VM's condition flag plus two lists
 * of jumps already emitted, one taken when the expression is true and one
 * when it is false. The lists are threaded through the jumps' own operands
 * (luaK_concat) and patched in place once the target is known
 * (luaK_patchtohere). `&` continues into its next operand only when the
 * previous one is true, `|` only when it is false, and `~` costs no
 * instruction at all: it swaps the two lists and flips the sense of the
 * pending flag. A negated tracker is `is_error & ~A`, because a negated
 * tracker must never turn a result into a failure (SPEC 5.1).
 *
 * The tree is a DAG (named references are shared) and can be deep, so the
 * walk is iterative over an explicit, heap-allocated stack, and every emitted
 * instruction is counted: a definition that doubles at every step hits
 * FG_MAX_INSTRUCTIONS and stops with a located error instead of running for
 * an exponential time.
 */
#include "fg_program.h"

#include <stdio.h>
#include <string.h>

#include "fg_alloc.h"
#include "fg_emit.h"
#include "fg_program_block.h"

/* The end of a jump list (no jump). */
#define FG_NO_JUMP FG_INSN_OPERAND_MAX

/* Deeper than this is a cycle or an absurd chain of plain references. */
enum { FG_MAX_WALK_DEPTH = 1 << 20 };

/* Every node visit counts, references and negations included (they emit
 * nothing): a chain of plain references used many times would otherwise
 * cost chain length x uses without ever reaching the instruction limit.
 * With this cap the work of one fg_codegen is bounded whatever the input. */
enum { FG_MAX_WALK_STEPS = 1 << 22 };

/* Counts one node visit; -1 (a located error) past the cap. */
static int fg_walk_step(fg_emitter *e, const fg_node *at) {
    if (++e->walk_steps <= FG_MAX_WALK_STEPS) return 0;
    return fg_emit_fail(e, at,
                        "program too large: expanding its named definitions visits more than "
                        "%d nodes",
                        (int)FG_MAX_WALK_STEPS);
}

/* A list of jumps whose targets are not known yet, threaded through the
 * jumps' own operands (the last one holds FG_NO_JUMP). Keeping the tail
 * makes joining two lists O(1), so long `&`/`|` chains stay linear. */
typedef struct fg_jumps {
    uint32_t head;
    uint32_t tail;
} fg_jumps;

static const fg_jumps fg_no_jumps = {FG_NO_JUMP, FG_NO_JUMP};

/* A compiled expression: the flag holds its value (inverted when negated),
 * and true_jumps/false_jumps list the exits that were already taken. */
typedef struct fg_cond {
    fg_jumps true_jumps;
    fg_jumps false_jumps;
    int negated;
} fg_cond;

/* One node being compiled: step counts the children done so far; pending
 * collects the exits of finished children (false exits for &, true exits
 * for |, the is_error test's false exit for a negated tracker). */
typedef struct fg_frame {
    const fg_node *node;
    uint32_t step;
    fg_jumps pending;
} fg_frame;

typedef struct fg_walk {
    fg_frame *frames;
    uint32_t depth;
    uint32_t capacity;
} fg_walk;

/* ---- jump lists ----------------------------------------------------------------- */

static void fg_jump_set(fg_emitter *e, uint32_t pc, uint32_t target) {
    uint32_t *insn = fg_emit_code_at(e, pc);
    *insn = FG_INSN_WITH_OPERAND(*insn, target);
}

/* Joins two lists in O(1) (luaK_concat); returns the joined list. */
static fg_jumps fg_jump_concat(fg_emitter *e, fg_jumps a, fg_jumps b) {
    if (a.head == FG_NO_JUMP) return b;
    if (b.head == FG_NO_JUMP) return a;
    fg_jump_set(e, a.tail, b.head);
    a.tail = b.tail;
    return a;
}

/* Points every jump of the list at the next instruction to be emitted
 * (luaK_patchtohere). Each jump is patched once, so this is linear overall. */
static void fg_jump_patch_here(fg_emitter *e, fg_jumps list) {
    uint32_t here = fg_emit_pc(e);
    uint32_t pc = list.head;
    while (pc != FG_NO_JUMP) {
        uint32_t next = FG_INSN_OPERAND(*fg_emit_code_at(e, pc));
        fg_jump_set(e, pc, here);
        pc = next;
    }
}

/* Emits a conditional jump (the flag's sense corrected for negation) taken
 * when c's value is jump_when; adds it to *list. Returns 0 or -1. */
static int fg_jump_emit(fg_emitter *e, const fg_cond *c, int jump_when, fg_jumps *list,
                        const fg_node *at) {
    int on_flag = jump_when ^ c->negated;
    fg_opcode op = on_flag ? FG_OP_JUMP_IF_TRUE : FG_OP_JUMP_IF_FALSE;
    int64_t pc = fg_emit_insn(e, FG_INSN(op, FG_NO_JUMP), at);
    if (pc < 0) return -1;
    fg_jumps one = {(uint32_t)pc, (uint32_t)pc};
    *list = fg_jump_concat(e, *list, one);
    return 0;
}

/* Continues at the next instruction only when c is true: its false exit
 * joins c->false_jumps, its true exits land here. */
static int fg_go_if_true(fg_emitter *e, fg_cond *c, const fg_node *at) {
    if (fg_jump_emit(e, c, 0, &c->false_jumps, at) != 0) return -1;
    fg_jump_patch_here(e, c->true_jumps);
    c->true_jumps = fg_no_jumps;
    return 0;
}

/* Continues at the next instruction only when c is false. */
static int fg_go_if_false(fg_emitter *e, fg_cond *c, const fg_node *at) {
    if (fg_jump_emit(e, c, 1, &c->true_jumps, at) != 0) return -1;
    fg_jump_patch_here(e, c->false_jumps);
    c->false_jumps = fg_no_jumps;
    return 0;
}

/* ---- the walk stack ------------------------------------------------------------ */

static int fg_walk_push(fg_emitter *e, fg_walk *w, const fg_node *node, const fg_node *at) {
    if (node == NULL) return fg_emit_fail(e, at, "internal error: incomplete expression tree");
    if (fg_walk_step(e, node) != 0) return -1;
    if (w->depth >= FG_MAX_WALK_DEPTH)
        return fg_emit_fail(e, at, "expression nested too deeply (more than %d levels)",
                            (int)FG_MAX_WALK_DEPTH);
    if (w->depth == w->capacity) {
        uint32_t cap = w->capacity ? w->capacity * 2 : 32;
        fg_frame *grown = fg_alloc_grow(&e->alloc, w->frames, w->capacity * sizeof *grown,
                                        cap * sizeof *grown);
        if (grown == NULL) return fg_emit_fail(e, at, "out of memory while generating code");
        w->frames = grown;
        w->capacity = cap;
    }
    fg_frame f = {node, 0, {FG_NO_JUMP, FG_NO_JUMP}};
    w->frames[w->depth++] = f;
    return 0;
}

static void fg_walk_free(fg_emitter *e, fg_walk *w) {
    fg_alloc_free(&e->alloc, w->frames, w->capacity * sizeof *w->frames);
    memset(w, 0, sizeof *w);
}

/* ---- expressions --------------------------------------------------------------- */

/* Compiles one expression (no return instruction) into *out, iteratively.
 * Returns 0 or -1 (the error is in the emitter). */
static int fg_compile_expr(fg_emitter *e, fg_walk *w, const fg_node *root, fg_cond *out) {
    fg_cond res = {{FG_NO_JUMP, FG_NO_JUMP}, {FG_NO_JUMP, FG_NO_JUMP}, 0}; /* the last finished child */
    w->depth = 0;
    if (fg_walk_push(e, w, root, root) != 0) return -1;
    while (w->depth > 0) {
        fg_frame *f = &w->frames[w->depth - 1];
        const fg_node *n = f->node;
        uint32_t step = f->step++;
        switch (n->kind) {
        case FG_NODE_CALL:
            if (fg_emit_test(e, n) != 0) return -1;
            res.true_jumps = res.false_jumps = fg_no_jumps;
            res.negated = 0;
            w->depth--;
            break;
        case FG_NODE_REF: /* compiles as its definition; the value passes through */
            if (step > 0) {
                w->depth--;
            } else if (n->child_count < 1 ||
                       fg_walk_push(e, w, n->children ? n->children[0] : NULL, n) != 0) {
                return fg_emit_fail(e, n, "internal error: unresolved reference");
            }
            break;
        case FG_NODE_NOT:
            if (step == 0) {
                if (n->child_count < 1 || n->children == NULL)
                    return fg_emit_fail(e, n, "internal error: '~' without an operand");
                if (e->kind == FG_PROGRAM_TRACKER) {
                    fg_cond is_error = {{FG_NO_JUMP, FG_NO_JUMP}, {FG_NO_JUMP, FG_NO_JUMP}, 0};
                    if (fg_emit_insn(e, FG_INSN(FG_OP_IS_ERROR, 0), n) < 0 ||
                        fg_go_if_true(e, &is_error, n) != 0)
                        return -1;
                    f->pending = is_error.false_jumps;
                }
                if (fg_walk_push(e, w, n->children[0], n) != 0) return -1;
            } else {
                fg_jumps t = res.true_jumps;
                res.true_jumps = res.false_jumps;
                res.false_jumps = fg_jump_concat(e, t, f->pending);
                res.negated ^= 1;
                w->depth--;
            }
            break;
        case FG_NODE_AND:
        case FG_NODE_OR: {
            int is_and = n->kind == FG_NODE_AND;
            if (n->child_count < 1 || n->children == NULL)
                return fg_emit_fail(e, n, "internal error: operator without operands");
            if (step > 0 && step < n->child_count) { /* between two operands */
                if ((is_and ? fg_go_if_true : fg_go_if_false)(e, &res, n) != 0) return -1;
                fg_jumps exits = is_and ? res.false_jumps : res.true_jumps;
                f->pending = fg_jump_concat(e, f->pending, exits);
            }
            if (step == n->child_count) { /* the last operand's value is the result */
                if (is_and)
                    res.false_jumps = fg_jump_concat(e, res.false_jumps, f->pending);
                else
                    res.true_jumps = fg_jump_concat(e, res.true_jumps, f->pending);
                w->depth--;
            } else if (fg_walk_push(e, w, n->children[step], n) != 0) {
                return -1;
            }
            break;
        }
        default:
            return fg_emit_fail(e, n, "internal error: unknown node kind");
        }
    }
    *out = res;
    return 0;
}

/* Emits one alternative: when expr is true, return true with its index. */
static int fg_compile_alternative(fg_emitter *e, fg_walk *w, const fg_node *expr) {
    int64_t index = fg_emit_alternative(e, expr);
    fg_cond c;
    if (index < 0 || fg_compile_expr(e, w, expr, &c) != 0 || fg_go_if_true(e, &c, expr) != 0)
        return -1;
    if (fg_emit_insn(e, FG_INSN(FG_OP_RETURN_TRUE, (uint32_t)index), expr) < 0) return -1;
    fg_jump_patch_here(e, c.false_jumps);
    return 0;
}

/* Follows named references to the definition they stand for. */
static const fg_node *fg_strip_refs(fg_emitter *e, const fg_node *n) {
    uint32_t hops = 0;
    while (n != NULL && n->kind == FG_NODE_REF) {
        if (++hops > FG_MAX_WALK_DEPTH || n->child_count < 1 || n->children == NULL) {
            fg_emit_fail(e, n, "internal error: unresolved reference");
            return NULL;
        }
        if (fg_walk_step(e, n) != 0) return NULL;
        n = n->children[0];
    }
    return n;
}

/* A tripper's top-level `|` chain, flattened through parentheses (nested
 * OR nodes) and named references, compiled one alternative after another in
 * source order. The walk stack holds the OR operands still to visit. */
static int fg_compile_alternatives(fg_emitter *e, fg_walk *todo, fg_walk *w, const fg_node *root) {
    todo->depth = 0;
    if (fg_walk_push(e, todo, root, root) != 0) return -1;
    while (todo->depth > 0) {
        const fg_node *n = fg_strip_refs(e, todo->frames[--todo->depth].node);
        if (n == NULL) return -1;
        if (n->kind == FG_NODE_OR && n->children != NULL) {
            for (uint32_t i = n->child_count; i-- > 0;)
                if (fg_walk_push(e, todo, n->children[i], n) != 0) return -1;
        } else if (fg_compile_alternative(e, w, n) != 0) {
            return -1;
        }
    }
    return 0;
}

int fg_codegen(const fg_node *root, fg_program_kind kind, const fg_allocator *alloc,
               fg_program **out, fg_codegen_error *err) {
    fg_codegen_error scratch;
    if (err == NULL) err = &scratch;
    memset(err, 0, sizeof *err);
    *out = NULL;
    fg_emitter e;
    fg_emit_init(&e, alloc, kind, err);
    if (root == NULL) {
        fg_emit_fail(&e, NULL, "internal error: no expression");
        fg_emit_dispose(&e);
        return -1;
    }
    fg_walk w = {NULL, 0, 0}, todo = {NULL, 0, 0};
    int rc;
    if (kind == FG_PROGRAM_TRIPPER) {
        rc = fg_compile_alternatives(&e, &todo, &w, root);
    } else {
        /* A tracker answers one question; its one alternative is itself. */
        rc = fg_compile_alternative(&e, &w, root);
    }
    if (rc == 0 && fg_emit_insn(&e, FG_INSN(FG_OP_RETURN_FALSE, 0), root) < 0) rc = -1;
    fg_program *p = NULL;
    if (rc == 0) rc = fg_emit_finish(&e, root, &p);
    fg_walk_free(&e, &w);
    fg_walk_free(&e, &todo);
    fg_emit_dispose(&e);
    if (rc != 0) return -1;

    char why[sizeof err->message - 32];
    if (fg_program_verify(p, why, sizeof why) != 0) {
        /* Our own bug, but reported as data rather than a crash later. */
        err->loc = root->loc;
        snprintf(err->message, sizeof err->message, "internal error: %s", why);
        fg_program_free(p, alloc);
        return -1;
    }
    fg_program_fold_results(p);
    fg_program_plan_tripper(p);
    *out = p;
    return 0;
}
