/*
 * fg_syntax.c -- builders for the raw parse tree, and the settings' names,
 * kinds and quantities expanded from FG_SETTING_LIST (see fg_syntax.h).
 *
 * Every builder allocates from the compile arena and returns NULL when it is
 * exhausted; the parser turns that into an out-of-memory abort.
 */
#include "fg_syntax.h"

static const struct {
    const char *name;
    int kind;
    fg_quantity quantity;
} fg_settings[FG_SET_COUNT] = {
#define FG_X(id, name, kind, quantity) {name, kind, quantity},
    FG_SETTING_LIST(FG_X)
#undef FG_X
};

const char *fg_setting_name(int key) {
    return key >= 0 && key < FG_SET_COUNT ? fg_settings[key].name : NULL;
}

int fg_setting_kind(int key) { return key >= 0 && key < FG_SET_COUNT ? fg_settings[key].kind : 0; }

fg_quantity fg_setting_quantity(int key) {
    return key >= 0 && key < FG_SET_COUNT ? fg_settings[key].quantity : FG_QTY_TEXT;
}

static fg_syn_expr *fg_syn_new(fg_arena *a, fg_syn_kind kind, fg_loc loc) {
    fg_syn_expr *e = fg_arena_alloc(a, sizeof *e);
    if (e == NULL) return NULL;
    e->kind = kind;
    e->loc = loc;
    e->op_loc = loc;
    return e;
}

fg_syn_expr *fg_syn_call(fg_arena *a, fg_loc loc, fg_loc name_loc, const char *name,
                         size_t name_len, fg_syn_list args) {
    fg_syn_expr *e = fg_syn_new(a, FG_SYN_CALL, loc);
    if (e == NULL) return NULL;
    e->op_loc = name_loc;
    e->name = name;
    e->name_len = name_len;
    e->args = args.first;
    e->arg_count = args.count;
    return e;
}

fg_syn_expr *fg_syn_name(fg_arena *a, fg_loc loc, const char *name, size_t name_len) {
    fg_syn_expr *e = fg_syn_new(a, FG_SYN_NAME, loc);
    if (e == NULL) return NULL;
    e->name = name;
    e->name_len = name_len;
    return e;
}

fg_syn_expr *fg_syn_number(fg_arena *a, fg_loc loc, double number, fg_unit unit, int bad) {
    fg_syn_expr *e = fg_syn_new(a, FG_SYN_NUMBER, loc);
    if (e == NULL) return NULL;
    e->number = number;
    e->unit = unit;
    e->bad = bad;
    return e;
}

/* Appends child to parent's children: O(1) with the tail pointer. */
static void fg_syn_push(fg_syn_expr *parent, fg_syn_expr *child) {
    child->next = NULL;
    if (parent->last) parent->last->next = child;
    else parent->first = child;
    parent->last = child;
    parent->count++;
}

fg_syn_expr *fg_syn_binary(fg_arena *a, fg_syn_kind kind, fg_syn_expr *left, fg_syn_expr *right,
                           fg_loc op_loc, fg_loc loc) {
    if (left->kind == kind && !left->parenthesized) {
        fg_syn_push(left, right);
        left->loc.end = loc.end;
        return left;
    }
    fg_syn_expr *e = fg_syn_new(a, kind, loc);
    if (e == NULL) return NULL;
    e->op_loc = op_loc;
    fg_syn_push(e, left);
    fg_syn_push(e, right);
    return e;
}

fg_syn_expr *fg_syn_not(fg_arena *a, fg_syn_expr *child, fg_loc op_loc, fg_loc loc) {
    fg_syn_expr *e = fg_syn_new(a, FG_SYN_NOT, loc);
    if (e == NULL) return NULL;
    e->op_loc = op_loc;
    fg_syn_push(e, child);
    return e;
}

fg_syn_arg *fg_syn_arg_new(fg_arena *a, const char *name, size_t name_len, fg_loc name_loc,
                           fg_value value, int bad) {
    fg_syn_arg *arg = fg_arena_alloc(a, sizeof *arg);
    if (arg == NULL) return NULL;
    arg->name = name;
    arg->name_len = name_len;
    arg->name_loc = name_loc;
    arg->value = value;
    arg->bad = bad;
    return arg;
}

fg_syn_setting *fg_syn_setting_new(fg_arena *a, int key, fg_loc key_loc, fg_syn_expr *expr) {
    fg_syn_setting *s = fg_arena_alloc(a, sizeof *s);
    if (s == NULL) return NULL;
    s->key = key;
    s->key_loc = key_loc;
    s->expr = expr;
    return s;
}

fg_syn_stmt *fg_syn_stmt_new(fg_arena *a, fg_stmt_kind kind, fg_loc loc) {
    fg_syn_stmt *s = fg_arena_alloc(a, sizeof *s);
    if (s == NULL) return NULL;
    s->kind = kind;
    s->loc = loc;
    return s;
}

void fg_syn_list_append_arg(fg_syn_list *list, fg_syn_arg *arg) {
    arg->next = NULL;
    if (list->last) ((fg_syn_arg *)list->last)->next = arg;
    else list->first = arg;
    list->last = arg;
    list->count++;
}

void fg_syn_list_append_setting(fg_syn_list *list, fg_syn_setting *setting) {
    setting->next = NULL;
    if (list->last) ((fg_syn_setting *)list->last)->next = setting;
    else list->first = setting;
    list->last = setting;
    list->count++;
}

void fg_syn_unit_add(fg_syn_unit *unit, fg_syn_stmt *stmt) {
    stmt->next = NULL;
    if (unit->last) unit->last->next = stmt;
    else unit->first = stmt;
    unit->last = stmt;
    if (stmt->kind == FG_STMT_BREAKER) unit->breaker_count++;
}
