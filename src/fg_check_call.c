/*
 * fg_check_call.c -- checking one constructor call against the parameter
 * table (fg_builtins.h): binding positional and keyword arguments,
 * filling defaults, and checking types and ranges, reporting every problem
 * of the call at the argument it concerns.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fg_builtins.h"
#include "fg_check_internal.h"
#include "fg_syntax.h"

/* "a string", "a range", "a number": for type errors. */
static const char *fg_value_noun(const fg_value *v) {
    switch (v->kind) {
    case FG_VALUE_STRING: return "a string";
    case FG_VALUE_RANGE: return "a range";
    default: return "a number";
    }
}

static int fg_is_integer(double v) { return v == floor(v) && fabs(v) <= 9007199254740992.0; }

/* ---- units -------------------------------------------------------------------- */

static int fg_unit_fits(fg_unit unit, fg_quantity q) {
    if (unit == FG_UNIT_NONE) return 1;
    if (q == FG_QTY_RATIO) return unit == FG_UNIT_PERCENT;
    if (q == FG_QTY_DURATION) return FG_UNIT_IS_DURATION(unit);
    return 0;
}

static const char *fg_quantity_noun(fg_quantity q) {
    switch (q) {
    case FG_QTY_COUNT: return "a count";
    case FG_QTY_RATIO: return "a ratio";
    case FG_QTY_DURATION: return "a duration";
    default: return "a plain number";
    }
}

int fg_check_unit(fg_diag_sink *sink, fg_loc loc, fg_unit unit, fg_quantity q, const char *subject) {
    if (fg_unit_fits(unit, q)) return 1;
    /* The literal as written, and its digits without the unit. */
    const char *text = "";
    size_t len = 0;
    if (loc.begin <= loc.end && loc.end <= sink->length) {
        text = sink->source + loc.begin;
        len = loc.end - loc.begin;
    }
    size_t unit_len = unit == FG_UNIT_MS ? 2 : 1;
    size_t bare = len > unit_len ? len - unit_len : 0;
    if (len > 40) len = 40;
    if (bare > 40) bare = 40;
    const char *got = FG_UNIT_IS_DURATION(unit) ? "a duration" : "a percentage";
    if (q == FG_QTY_DURATION)
        fg_diag_error(sink, loc,
                      "'%.*s' is %s, but %s is a duration: write seconds, plain or with "
                      "ms, s, m or h ('%.*ss')",
                      (int)len, text, got, subject, (int)bare, text);
    else if (q == FG_QTY_RATIO)
        fg_diag_error(sink, loc,
                      "'%.*s' is %s, but %s is a ratio: write a fraction or a percentage "
                      "(e.g. '0.5' or '50%%')",
                      (int)len, text, got, subject);
    else
        fg_diag_error(sink, loc, "'%.*s' is %s, but %s is %s: write it without a unit ('%.*s')",
                      (int)len, text, got, subject, fg_quantity_noun(q), (int)bare, text);
    return 0;
}

int fg_check_name(fg_diag_sink *sink, const char *what, const char *s, size_t n, fg_loc loc) {
    if (n == 0) {
        fg_diag_error(sink, loc, "%s is empty", what);
        return -1;
    }
    if (memchr(s, '\0', n) == NULL) return 0;
    /* There is no escape for NUL: the byte is in the source, inside the token. */
    fg_loc at = loc;
    if (loc.begin <= loc.end && loc.end <= sink->length) {
        const char *nul = memchr(sink->source + loc.begin, '\0', loc.end - loc.begin);
        if (nul != NULL) {
            uint32_t off = (uint32_t)(nul - (sink->source + loc.begin));
            at.column += (int)off;
            at.begin += off;
            at.end = at.begin + 1;
        }
    }
    fg_diag_error(sink, at, "%s contains a NUL byte", what);
    return -1;
}

/* "CountWindow() size": the subject of a unit message. */
static const char *fg_param_subject(const fg_builtin *b, const fg_param *p, char *buf, size_t cap) {
    snprintf(buf, cap, "%s() %s", b->name, p->name);
    return buf;
}

/* Variadic calls: TypeOf("a", ...) and Status(500..599, 429, ...). */
static int fg_check_list(fg_check_ctx *x, const fg_syn_expr *e, const fg_builtin *b,
                         fg_value **out, uint32_t *count) {
    const fg_param *p = &b->params[0];
    int ok = 1;
    fg_value *vals = fg_arena_alloc(x->c->arena, (e->arg_count ? e->arg_count : 1) * sizeof *vals);
    if (vals == NULL) {
        x->c->oom = 1;
        return 0;
    }
    uint32_t n = 0;
    for (const fg_syn_arg *a = e->args; a != NULL; a = a->next) {
        if (a->name != NULL) {
            fg_diag_error(x->sink, a->name_loc, "%s() takes no keyword arguments (got '" FG_NAME_FMT "')",
                          b->name, FG_NAME_ARG(a->name, a->name_len));
            ok = 0;
            continue;
        }
        if (a->bad) {
            ok = 0;
            continue;
        }
        const fg_value *v = &a->value;
        if (p->type == FG_PARAM_STRINGS) {
            if (v->kind != FG_VALUE_STRING) {
                fg_diag_error(x->sink, v->loc, "%s() %s must be strings, got %s", b->name, p->name,
                              fg_value_noun(v));
                ok = 0;
                continue;
            }
        } else if (v->kind == FG_VALUE_STRING) {
            fg_diag_error(x->sink, v->loc, "%s() %s must be integers or ranges a..b, got a string",
                          b->name, p->name);
            ok = 0;
            continue;
        } else if (v->unit != FG_UNIT_NONE) {
            fg_diag_error(x->sink, v->loc, "%s() %s are plain integers: write them without a unit",
                          b->name, p->name);
            ok = 0;
            continue;
        } else if (!fg_is_integer(v->number) ||
                   (v->kind == FG_VALUE_RANGE && !fg_is_integer(v->high))) {
            double got = fg_is_integer(v->number) ? v->high : v->number;
            /* 1e300 is a whole number too: say why it is refused. */
            fg_diag_error(x->sink, v->loc, "%s() %s must be integers%s, got %.15g", b->name, p->name,
                          got == floor(got) ? " in [-2^53, 2^53]" : "", got);
            ok = 0;
            continue;
        } else if (v->kind == FG_VALUE_RANGE && v->number > v->high) {
            fg_diag_error(x->sink, v->loc, "%s() range %.15g..%.15g is empty (the first code must be <= the last)",
                          b->name, v->number, v->high);
            ok = 0;
            continue;
        }
        vals[n++] = *v;
    }
    if (e->arg_count == 0) {
        fg_diag_error(x->sink, e->op_loc, "%s() needs %s", b->name, p->rule);
        ok = 0;
    }
    *out = vals;
    *count = n;
    return ok;
}

/* Reports why v is outside p's range; 1 when it is inside. */
static int fg_check_range(fg_check_ctx *x, const fg_builtin *b, const fg_param *p,
                          const fg_value *v, const fg_value *vals) {
    double n = v->number;
    int bad = (p->type == FG_PARAM_INTEGER && !fg_is_integer(n)) || n < p->min ||
              (p->min_open && n == p->min) || n > p->max || (p->max_open && n == p->max);
    int bound = fg_param_min_index(b, p);
    if (!bad && bound >= 0 && n < vals[bound].number) {
        fg_diag_error(x->sink, v->loc, "%s() %s must be %s, got %.15g (%s is %.15g)", b->name, p->name,
                      p->rule, n, b->params[bound].name, vals[bound].number);
        return 0;
    }
    if (!bad) return 1;
    if (n > p->max && !p->max_open && p->max > 1)
        fg_diag_error(x->sink, v->loc, "%s() %s must be %s and at most %.0f, got %.15g", b->name,
                      p->name, p->rule, p->max, n);
    else if (p->quantity == FG_QTY_RATIO && v->unit == FG_UNIT_NONE && n >= 2 && n <= 100 &&
             n == floor(n))
        /* FailureRate(60): a percentage without its '%'. */
        fg_diag_error(x->sink, v->loc, "%s() %s must be %s, got %.15g (did you mean '%.15g%%'?)",
                      b->name, p->name, p->rule, n, n);
    else
        fg_diag_error(x->sink, v->loc, "%s() %s must be %s, got %.15g", b->name, p->name, p->rule, n);
    return 0;
}

/* Suggests the closest parameter name for an unknown keyword. */
static const char *fg_param_suggest(const fg_builtin *b, const char *name, size_t len) {
    size_t best = (size_t)-1;
    const char *found = NULL;
    for (uint32_t i = 0; i < b->param_count; i++) {
        const char *c = b->params[i].name;
        if (fg_suggest_consider(name, len, c, strlen(c), &best)) found = c;
    }
    return found;
}

/* Binds e's arguments to b's fixed parameters; every problem is reported. */
static int fg_check_bind(fg_check_ctx *x, const fg_syn_expr *e, const fg_builtin *b,
                         fg_value *vals) {
    const fg_syn_arg *given[8] = {0};
    char subject[64];
    uint32_t n = b->param_count, pos = 0;
    int ok = 1, keyword_seen = 0;
    for (const fg_syn_arg *a = e->args; a != NULL; a = a->next) {
        if (a->name != NULL) {
            keyword_seen = 1;
            uint32_t i = 0;
            while (i < n && !(strlen(b->params[i].name) == a->name_len &&
                              memcmp(b->params[i].name, a->name, a->name_len) == 0))
                i++;
            if (i == n) {
                const char *s = fg_param_suggest(b, a->name, a->name_len);
                fg_diag_error(x->sink, a->name_loc, "unknown argument '" FG_NAME_FMT "' to %s()%s%s%s",
                              FG_NAME_ARG(a->name, a->name_len), b->name,
                              s ? " (did you mean '" : "", s ? s : "", s ? "'?)" : "");
                ok = 0;
            } else if (given[i] != NULL) {
                fg_diag_error(x->sink, a->name_loc, "duplicate argument '%s' to %s()",
                              b->params[i].name, b->name);
                ok = 0;
            } else {
                given[i] = a;
            }
        } else if (keyword_seen) {
            fg_diag_error(x->sink, a->value.loc, "positional argument after keyword arguments in %s()",
                          b->name);
            ok = 0;
        } else if (pos >= n) {
            if (n == 0)
                fg_diag_error(x->sink, a->value.loc, "%s() takes no arguments", b->name);
            else
                fg_diag_error(x->sink, a->value.loc, "too many arguments to %s() (it takes %u)",
                              b->name, (unsigned)n);
            ok = 0;
            break;
        } else {
            given[pos++] = a;
        }
    }
    for (uint32_t i = 0; i < n; i++) {
        const fg_param *p = &b->params[i];
        vals[i].kind = FG_VALUE_NUMBER;
        vals[i].loc = e->op_loc;
        if (given[i] == NULL) {
            if (p->has_default) {
                vals[i].number = p->default_value;
            } else {
                fg_diag_error(x->sink, e->op_loc, "missing argument '%s' to %s()", p->name, b->name);
                ok = 0;
            }
            continue;
        }
        const fg_value *v = &given[i]->value;
        vals[i] = *v;
        if (given[i]->bad) {
            ok = 0;
            continue;
        }
        int want_string = p->type == FG_PARAM_STRING;
        if (v->kind == FG_VALUE_RANGE) {
            fg_diag_error(x->sink, v->loc, "a range (a..b) is allowed only in Status()");
            ok = 0;
        } else if (want_string != (v->kind == FG_VALUE_STRING)) {
            fg_diag_error(x->sink, v->loc, "%s() %s must be %s, got %s", b->name, p->name,
                          want_string ? "a string" : "a number", fg_value_noun(v));
            ok = 0;
        } else if (want_string) {
            if (p->quantity == FG_QTY_NAME &&
                fg_check_name(x->sink, fg_param_subject(b, p, subject, sizeof subject), v->string,
                              v->length, v->loc) != 0)
                ok = 0;
        } else if (!fg_check_unit(x->sink, v->loc, v->unit, p->quantity,
                                  fg_param_subject(b, p, subject, sizeof subject))) {
            ok = 0;
        } else {
            int bound = fg_param_min_index(b, p);
            int min_ok = bound < 0 || given[bound] == NULL ||
                         (!given[bound]->bad && given[bound]->value.kind == FG_VALUE_NUMBER);
            const fg_param *q = p;
            fg_param relaxed;
            if (!min_ok) { /* the bound itself was wrong: check the rest */
                relaxed = *p;
                relaxed.min_param = NULL;
                q = &relaxed;
            }
            if (!fg_check_range(x, b, q, v, vals)) ok = 0;
        }
    }
    return ok;
}

fg_node *fg_check_call(fg_check_ctx *x, const fg_syn_expr *e, fg_builtin_id id) {
    const fg_builtin *b = fg_builtin_get(id);
    if ((b->kinds & x->expected) == 0) {
        fg_diag_error(x->sink, e->op_loc, "%s() is a %s, but '%s' expects a %s", b->name,
                      fg_kind_name(b->kinds), fg_setting_name(x->key), fg_kind_name(x->expected));
        return NULL;
    }
    fg_value *vals = NULL;
    uint32_t count = b->param_count;
    int ok;
    if (count == 1 && (b->params[0].type == FG_PARAM_STRINGS || b->params[0].type == FG_PARAM_CODES)) {
        ok = fg_check_list(x, e, b, &vals, &count);
    } else {
        vals = fg_arena_alloc(x->c->arena, (count ? count : 1) * sizeof *vals);
        if (vals == NULL) {
            x->c->oom = 1;
            return NULL;
        }
        ok = fg_check_bind(x, e, b, vals);
    }
    if (!ok || x->c->oom) return NULL;
    fg_node *node = fg_check_node(x, FG_NODE_CALL, e);
    if (node == NULL) return NULL;
    node->builtin = id;
    node->kind_bits = b->kinds & x->expected;
    node->args = vals;
    node->arg_count = count;
    return node;
}
