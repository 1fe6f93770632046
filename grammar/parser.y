/*
 * parser.y -- the policy language's grammar (SPEC.md 3.2): a pure bison
 * parser with locations that builds the raw parse tree of fg_syntax.h.
 *
 * One grammar serves both compilation units: the scanner's first token says
 * whether this is a policy file (statements) or a single expression (what
 * fg_policy_from_expressions and the Lua binding compile per field).
 *
 * Error recovery is per setting and per statement (the `error` rules below),
 * so one compile reports every independent syntax error; bison suppresses
 * the cascade until three tokens have been shifted after an error.
 *
 * Nesting of `(` and `~` is counted on the way down (the `enter` rule) and
 * bounded by FG_MAX_NESTING: past it the parser reports a located error and
 * recovers at the setting, so bison's stack (a fixed array, never grown) and
 * every later recursion over the tree stay bounded. `|` and `&` chains are
 * left-recursive and built n-ary, so their length costs no depth at all.
 *
 * Semantic values are arena pointers (fg_arena.h): the arena frees whatever
 * error recovery discards. What recovery must undo is the nesting count: an
 * `enter` popped before its `(` or `~` was closed gives its level back (its
 * %destructor), so the count is exact after any error.
 */
%require "3.8"
%define api.pure full
%define api.prefix {fg_yy}
%define api.location.type {fg_loc}
%define parse.error custom
%locations
%expect 0
%param {void *scanner}
%parse-param {fg_parse_state *st}

%code requires {
#include "fg_ast.h"
#include "fg_syntax.h"
struct fg_parse_state;
typedef struct fg_parse_state fg_parse_state;
}

%code {
#include <string.h>

#include "fg_alloc.h"
#include "fg_builtins.h"
#include "fg_parse.h"
#include "lexer.h"

/* Spans: a rule covers its first to its last symbol; an empty rule sits at
 * the end of what precedes it. */
#define YYLLOC_DEFAULT(Cur, Rhs, N)                                            \
    do {                                                                       \
        if (N) {                                                               \
            (Cur) = YYRHSLOC(Rhs, 1);                                          \
            (Cur).end = YYRHSLOC(Rhs, N).end;                                  \
        } else {                                                               \
            (Cur) = YYRHSLOC(Rhs, 0);                                          \
            (Cur).begin = (Cur).end;                                           \
        }                                                                      \
    } while (0)

/* A fixed stack: FG_MAX_NESTING keeps the parse well inside it, so bison
 * never reallocates (which would bypass the fg_allocator). */
#define YYINITDEPTH FG_PARSE_STACK
#define YYMAXDEPTH FG_PARSE_STACK

static void fg_yyerror(fg_loc *loc, void *scanner, fg_parse_state *st, const char *msg);
static int fg_parse_enter(fg_parse_state *st);
static void fg_parse_unknown_setting(fg_parse_state *st, fg_loc loc, const char *name, size_t len);
static void fg_parse_name_value(fg_parse_state *st, fg_loc loc, const char *name, size_t len);

/* Every builder returns NULL when the arena is exhausted: stop the parse. */
#define FG_MADE(x)                                                             \
    do {                                                                       \
        if ((x) == NULL) {                                                     \
            st->oom = 1;                                                       \
            YYABORT;                                                           \
        }                                                                      \
    } while (0)
}

%union {
    struct { const char *s; size_t n; } text;
    struct { const char *s; size_t n; int bad; } string;
    struct { double value; fg_unit unit; int bad; } number;
    int key;
    fg_syn_expr *expr;
    fg_syn_arg *arg;
    fg_syn_stmt *stmt;
    fg_syn_list list;
}

%token START_POLICY "start of policy" START_EXPRESSION "start of expression"
%token KW_BREAKER "'breaker'" KW_DEFAULTS "'defaults'"
%token <key> KW_DEFINE "'tracker' or 'tripper'"
%token <key> KW_SETTING "setting name"
%token <text> NAME "name"
%token <string> STRING "string"
%token <number> NUMBER "number"
%token DOTDOT "'..'"

%type <expr> expr and_expr unary primary
%type <arg> arg
%type <list> args settings
%type <stmt> statement
%type <key> setting_key
%type <text> breaker_name

%type <key> enter
%destructor { (void)$$; st->depth--; } enter

%%

unit:
    START_POLICY policy
  | START_EXPRESSION expr opt_semi    { st->unit->expr = $2; }
  ;

policy:
    %empty
  | policy statement                  { if ($2) fg_syn_unit_add(st->unit, $2); }
  ;

statement:
    KW_DEFINE NAME '=' expr opt_semi {
        FG_MADE($$ = fg_syn_stmt_new(st->arena, FG_STMT_DEFINE, @1));
        $$->define_key = $1;
        $$->name = $2.s;
        $$->name_len = $2.n;
        $$->name_loc = @2;
        $$->expr = $4;
    }
  | KW_DEFINE NAME '=' error {
        /* Remembered so that uses of the name are not reported again. */
        FG_MADE($$ = fg_syn_stmt_new(st->arena, FG_STMT_BAD_DEFINE, @1));
        $$->define_key = $1;
        $$->name = $2.s;
        $$->name_len = $2.n;
        $$->name_loc = @2;
    }
  | KW_DEFAULTS '{' settings '}' opt_semi {
        FG_MADE($$ = fg_syn_stmt_new(st->arena, FG_STMT_DEFAULTS, @1));
        $$->settings = $3.first;
    }
  | KW_BREAKER breaker_name '{' settings '}' opt_semi {
        FG_MADE($$ = fg_syn_stmt_new(st->arena, FG_STMT_BREAKER, @1));
        $$->name = $2.s;
        $$->name_len = $2.n;
        $$->name_loc = @2;
        $$->settings = $4.first;
    }
  | error                             { $$ = NULL; }
  ;

breaker_name:
    NAME                              { $$ = $1; }
  | STRING                            { $$.s = $1.s; $$.n = $1.n; }
  ;

settings:
    %empty                            { $$.first = $$.last = NULL; $$.count = 0; }
  | settings setting_key '=' expr opt_semi {
        fg_syn_setting *s;
        FG_MADE(s = fg_syn_setting_new(st->arena, $2, @2, $4));
        $$ = $1;
        fg_syn_list_append_setting(&$$, s);
    }
  | settings NAME '=' expr opt_semi   { $$ = $1; fg_parse_unknown_setting(st, @2, $2.s, $2.n); }
  | settings error                    { $$ = $1; }
  ;

setting_key:
    KW_DEFINE
  | KW_SETTING
  ;

opt_semi:
    %empty
  | ';'
  ;

expr:
    and_expr
  | expr '|' and_expr                 { FG_MADE($$ = fg_syn_binary(st->arena, FG_SYN_OR, $1, $3, @2, @$)); }
  ;

and_expr:
    unary
  | and_expr '&' unary                { FG_MADE($$ = fg_syn_binary(st->arena, FG_SYN_AND, $1, $3, @2, @$)); }
  ;

unary:
    primary
  | '~' enter unary {
        st->depth -= $2;
        FG_MADE($$ = fg_syn_not(st->arena, $3, @1, @$));
    }
  ;

primary:
    NAME '(' ')' {
        fg_syn_list none = {NULL, NULL, 0};
        FG_MADE($$ = fg_syn_call(st->arena, @$, @1, $1.s, $1.n, none));
    }
  | NAME '(' args ')'                 { FG_MADE($$ = fg_syn_call(st->arena, @$, @1, $1.s, $1.n, $3)); }
  | NAME                              { FG_MADE($$ = fg_syn_name(st->arena, @1, $1.s, $1.n)); }
  | NUMBER                            { FG_MADE($$ = fg_syn_number(st->arena, @1, $1.value, $1.unit, $1.bad)); }
  | '(' enter expr ')' {
        st->depth -= $2;
        $$ = $3;
        $$->loc = @$;
        $$->parenthesized = 1;
    }
  ;

/* Counts one level of nesting before the nested part is parsed. */
enter:
    %empty                            { if (fg_parse_enter(st) != 0) YYERROR; $$ = 1; }
  ;

args:
    arg                               { $$.first = $$.last = NULL; $$.count = 0; fg_syn_list_append_arg(&$$, $1); }
  | args ',' arg                      { $$ = $1; fg_syn_list_append_arg(&$$, $3); }
  ;

arg:
    NAME '=' NUMBER {
        fg_value v = {FG_VALUE_NUMBER, $3.value, 0, NULL, 0, @3, $3.unit};
        FG_MADE($$ = fg_syn_arg_new(st->arena, $1.s, $1.n, @1, v, $3.bad));
    }
  | NAME '=' STRING {
        fg_value v = {FG_VALUE_STRING, 0, 0, $3.s, $3.n, @3, FG_UNIT_NONE};
        FG_MADE($$ = fg_syn_arg_new(st->arena, $1.s, $1.n, @1, v, $3.bad));
    }
  | NAME '=' NUMBER DOTDOT NUMBER {
        fg_value v = {FG_VALUE_RANGE, $3.value, $5.value, NULL, 0, @3, $3.unit ? $3.unit : $5.unit};
        v.loc.end = @5.end;
        FG_MADE($$ = fg_syn_arg_new(st->arena, $1.s, $1.n, @1, v, $3.bad || $5.bad));
    }
  | NUMBER {
        fg_value v = {FG_VALUE_NUMBER, $1.value, 0, NULL, 0, @1, $1.unit};
        FG_MADE($$ = fg_syn_arg_new(st->arena, NULL, 0, @1, v, $1.bad));
    }
  | STRING {
        fg_value v = {FG_VALUE_STRING, 0, 0, $1.s, $1.n, @1, FG_UNIT_NONE};
        FG_MADE($$ = fg_syn_arg_new(st->arena, NULL, 0, @1, v, $1.bad));
    }
  | NUMBER DOTDOT NUMBER {
        fg_value v = {FG_VALUE_RANGE, $1.value, $3.value, NULL, 0, @1, $1.unit ? $1.unit : $3.unit};
        v.loc.end = @3.end;
        FG_MADE($$ = fg_syn_arg_new(st->arena, NULL, 0, @1, v, $1.bad || $3.bad));
    }
    /* `TypeOf(timeout)`, `FailureStreak(count = n)`: a value written as a
     * name. One error at the name (not "expecting '='", which would send the
     * writer looking for a keyword argument); the argument is kept, flagged
     * bad, so that the call reports nothing more about it. */
  | NAME '=' NAME {
        fg_parse_name_value(st, @3, $3.s, $3.n);
        fg_value v = {FG_VALUE_STRING, 0, 0, $3.s, $3.n, @3, FG_UNIT_NONE};
        FG_MADE($$ = fg_syn_arg_new(st->arena, $1.s, $1.n, @1, v, 1));
    }
  | NAME {
        fg_parse_name_value(st, @1, $1.s, $1.n);
        fg_value v = {FG_VALUE_STRING, 0, 0, $1.s, $1.n, @1, FG_UNIT_NONE};
        FG_MADE($$ = fg_syn_arg_new(st->arena, NULL, 0, @1, v, 1));
    }
  ;

%%

/* 0 when the error is a consequence of what was already reported. */
static int fg_parse_reportable(const fg_parse_state *st) {
    if (st->oom) return 0; /* the scanner ended the input early; not the user's fault */
    /* The token after a lexical error is usually its consequence (the rest
     * of an unterminated string's line, what followed a stray character). */
    return !(st->lex_error_at != 0 && st->tokens <= st->lex_error_at + 3);
}

/* Only "memory exhausted" (the fixed stack) comes here: syntax errors go to
 * yyreport_syntax_error. */
static void fg_yyerror(fg_loc *loc, void *scanner, fg_parse_state *st, const char *msg) {
    (void)scanner;
    if (!fg_parse_reportable(st)) return;
    if (strcmp(msg, "memory exhausted") == 0) msg = "expression too complex";
    fg_diag_error(st->sink, *loc, "%s", msg);
}

/* `braeker a { ... }`: a name where a statement starts. */
static int fg_parse_unknown_statement(fg_parse_state *st, fg_loc loc) {
    static const char *const keywords[] = {"breaker", "defaults", "tracker", "tripper"};
    const char *name = st->source + loc.begin;
    size_t len = loc.end - loc.begin, best = (size_t)-1;
    const char *found = NULL;
    for (size_t k = 0; k < sizeof keywords / sizeof keywords[0]; k++)
        if (fg_suggest_consider(name, len, keywords[k], strlen(keywords[k]), &best)) found = keywords[k];
    if (found == NULL) return 0;
    fg_diag_error(st->sink, loc, "syntax error, unknown statement '%.*s' (did you mean '%s'?)",
                  len > 64 ? 64 : (int)len, name, found);
    return 1;
}

/* bison's "detailed" message, "syntax error, unexpected X, expecting A or B"
 * (the expected tokens listed when there are at most four), written here so
 * that a misspelt statement keyword gets a suggestion, and so that no
 * message needs a buffer of bison's own (it would not come from the
 * fg_allocator). */
static int yyreport_syntax_error(const yypcontext_t *ctx, void *scanner, fg_parse_state *st) {
    (void)scanner;
    if (!fg_parse_reportable(st)) return 0;
    fg_loc loc = *yypcontext_location(ctx);
    yysymbol_kind_t unexpected = yypcontext_token(ctx);
    if (unexpected == YYSYMBOL_YYEMPTY) {
        fg_diag_error(st->sink, loc, "syntax error");
        return 0;
    }
    yysymbol_kind_t expected[4];
    int n = yypcontext_expected_tokens(ctx, expected, 4);
    if (n < 0) n = 0;
    if (unexpected == YYSYMBOL_NAME)
        for (int i = 0; i < n; i++)
            if (expected[i] == YYSYMBOL_KW_BREAKER && fg_parse_unknown_statement(st, loc)) return 0;
    /* `tripper = A(1) B(2)`, `breaker a { FailureStreak(5) }`: a call where a
     * setting starts reads as a setting's name followed by '(', which says
     * little; say it at the name. */
    if (n == 1 && strcmp(yysymbol_name(unexpected), "'('") == 0 &&
        strcmp(yysymbol_name(expected[0]), "'='") == 0 &&
        st->latest.begin == loc.begin && st->before.end > st->before.begin) {
        fg_loc name = st->before;
        size_t len = name.end - name.begin;
        fg_diag_error(st->sink, name,
                      "syntax error, a call '%.*s(...)' where a setting starts (is '&' or '|' missing "
                      "before it, or the setting's name and '='?)",
                      len > 64 ? 64 : (int)len, st->source + name.begin);
        return 0;
    }
    /* `FailureStreak(5) FailureRate(1)` as a single expression. */
    if (st->mode == FG_PARSE_EXPRESSION && n == 1 && expected[0] == YYSYMBOL_YYEOF &&
        (unexpected == YYSYMBOL_NAME || unexpected == YYSYMBOL_NUMBER ||
         strcmp(yysymbol_name(unexpected), "'('") == 0 || strcmp(yysymbol_name(unexpected), "'~'") == 0)) {
        fg_diag_error(st->sink, loc, "syntax error, unexpected %s after a whole expression (is '&' or "
                      "'|' missing before it?)", yysymbol_name(unexpected));
        return 0;
    }
    char msg[320];
    size_t used = (size_t)snprintf(msg, sizeof msg, "syntax error, unexpected %s", yysymbol_name(unexpected));
    for (int i = 0; i < n && used < sizeof msg; i++)
        used += (size_t)snprintf(msg + used, sizeof msg - used, "%s%s", i == 0 ? ", expecting " : " or ",
                                 yysymbol_name(expected[i]));
    fg_diag_error(st->sink, loc, "%s", msg);
    return 0;
}

/* One more level of ( or ~; reports the limit at the token that passed it. */
static int fg_parse_enter(fg_parse_state *st) {
    if (++st->depth <= FG_MAX_NESTING) return 0;
    st->depth--; /* this level is refused: no `enter` is pushed to give it back */
    fg_diag_error(st->sink, st->last, "expression nested too deeply (limit %d)", FG_MAX_NESTING);
    return -1;
}

/* `windw = ...`: the name of a setting that does not exist. */
static void fg_parse_unknown_setting(fg_parse_state *st, fg_loc loc, const char *name, size_t len) {
    size_t best = (size_t)-1;
    const char *found = NULL;
    for (int k = 0; k < FG_SET_COUNT; k++) {
        const char *c = fg_setting_name(k);
        if (fg_suggest_consider(name, len, c, strlen(c), &best)) found = c;
    }
    int shown = len > 64 ? 64 : (int)len;
    if (found != NULL)
        fg_diag_error(st->sink, loc, "unknown setting '%.*s' (did you mean '%s'?)", shown, name, found);
    else
        fg_diag_error(st->sink, loc,
                      "unknown setting '%.*s' (settings are window, tracker, tripper, retry, "
                      "permit, max_half_open_calls, half_open_lease)",
                      shown, name);
}

/* An argument's value written as a bare name: arguments are numbers and
 * strings, and a name is most often a string without its quotes. */
static void fg_parse_name_value(fg_parse_state *st, fg_loc loc, const char *name, size_t len) {
    /* `TypeOf('timeout)`: the name is what the stray quote left. */
    if (!fg_parse_reportable(st)) return;
    int shown = len > 64 ? 64 : (int)len;
    fg_diag_error(st->sink, loc,
                  "'%.*s' is a name, but an argument is a number or a string (a string is "
                  "written in double quotes: \"%.*s\")",
                  shown, name, shown, name);
}

int fg_parse(fg_arena *arena, fg_diag_sink *sink, const fg_allocator *alloc, const char *source,
             size_t length, fg_parse_mode mode, fg_syn_unit **out) {
    return fg_parse_limited(arena, sink, alloc, source, length, mode, FG_MAX_TOKEN, out);
}

int fg_parse_limited(fg_arena *arena, fg_diag_sink *sink, const fg_allocator *alloc,
                     const char *source, size_t length, fg_parse_mode mode, size_t max_token,
                     fg_syn_unit **out) {
    fg_parse_state st;
    memset(&st, 0, sizeof st);
    *out = NULL;
    st.arena = arena;
    st.sink = sink;
    st.alloc = fg_alloc_resolve(alloc);
    st.source = source;
    st.length = length;
    st.mode = mode;
    st.line = 1;
    st.column = 1;
    st.max_token = max_token >= 1 && max_token <= FG_MAX_TOKEN ? max_token : FG_MAX_TOKEN;
    /* An empty unit first: every caller reads *out after a 0 return, also
     * when the input is refused unread. */
    st.unit = fg_arena_alloc(arena, sizeof *st.unit);
    if (st.unit == NULL) return -1;
    *out = st.unit;
    if (length > FG_MAX_SOURCE) {
        fg_loc start = {1, 1, 0, 0};
        fg_diag_error(sink, start, "input too large (limit 4 GiB)");
        return 0;
    }
    /* A UTF-8 byte-order mark (editors on Windows write one) is not text:
     * scanning starts after it, and offsets still count it, so names and
     * source lines keep pointing into the caller's text. */
    if (length >= 3 && memcmp(source, "\xEF\xBB\xBF", 3) == 0) {
        st.offset = 3;
        st.fed = 3;
    }
    void *scanner;
    if (fg_scan_open(&st, &scanner) != 0) return -1;
    fg_yyparse(scanner, &st);
    fg_scan_close(&st, scanner);
    return st.oom ? -1 : 0;
}
