/*
 * fg_parse.h -- running the flex scanner and bison parser over one chunk.
 *
 * fg_parse is the only entry point the compiler uses; the state struct is
 * shared by the scanner (grammar/lexer.l, as its extra data) and the parser
 * (grammar/parser.y, as its parse parameter), and is private to the three.
 */
#ifndef FG_PARSE_H
#define FG_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "fg_arena.h"
#include "fg_diag.h"
#include "fg_syntax.h"

/* Documented limit (doc/language.md, "Limits"): parentheses and `~` nest at most this
 * deep, counted together. Past it the parser reports a located error and
 * skips the rest of the setting; the limit also bounds bison's stack and
 * every recursion over a parse tree. */
enum { FG_MAX_NESTING = 200 };

/* Bison's stack is a fixed array of this many entries (on the C stack, never
 * reallocated). A nesting level holds at most six: `( enter expr | and_expr &`
 * waiting for the next `(`; a statement and the innermost level hold a few
 * more. test_parser checks the worst case at the limit. */
enum { FG_PARSE_STACK = 6 * FG_MAX_NESTING + 64 };

/* Documented limit (doc/language.md, "Limits"): a policy or expression text holds at
 * most this many bytes (4 GiB - 3): offsets are 32-bit and the scanner keeps
 * two bytes of end marks. fg_policy_load reads at most one byte more. */
#define FG_MAX_SOURCE ((size_t)UINT32_MAX - 2u)

/* Documented limit (doc/language.md, "Limits"): one token -- a name, a number, a
 * string, a comment, a run of blanks -- holds at most this many bytes; a
 * longer one is a located error "token too long". The limit keeps every
 * length flex computes in its `int`s far below INT_MAX (see grammar/lexer.l,
 * "Feeding the scanner"). */
enum { FG_MAX_TOKEN = 16 << 20 };

typedef enum fg_parse_mode {
    FG_PARSE_POLICY,    /* a policy file: statements */
    FG_PARSE_EXPRESSION /* one expression (optionally followed by ';') */
} fg_parse_mode;

typedef struct fg_parse_state {
    fg_arena *arena;       /* the parse tree goes here */
    fg_diag_sink *sink;    /* syntax errors go here */
    fg_allocator alloc;    /* flex's own blocks */
    const char *source;    /* the caller's text: names point into it */
    size_t length;
    fg_parse_mode mode;
    int start_sent;        /* the mode token was handed to the parser */
    int depth;             /* current nesting of ( and ~ */
    int oom;               /* out of memory: stop quietly */
    /* scanner position */
    int line, column;
    uint32_t offset;       /* of the next token: every byte before it was matched */
    size_t fed;            /* bytes of source handed to flex so far (fg_scan_feed) */
    size_t max_token;      /* FG_MAX_TOKEN, or smaller in tests */
    int too_long;          /* fg_scan_feed refused: the token being matched is too long */
    int stop;              /* that was reported: the scanner reports end of input */
    fg_loc last;           /* the last token's location */
    fg_loc before;         /* the token before the last that was not white space or a comment */
    fg_loc latest;         /* the last token that was not white space or a comment */
    /* blocks: a statement keyword inside one closes it (the '}' is missing) */
    int in_block;          /* a '{' was scanned, and no '}' since */
    int block_line;        /* the line of that '{' */
    int pending;           /* a token to hand out before scanning on (0: none) */
    fg_loc pending_loc;
    uint32_t tokens;       /* tokens scanned so far (not white space) */
    uint32_t lex_error_at; /* tokens when the last lexical error was reported */
    /* blocks set aside so that flex's buffer setup cannot fail halfway */
    void *reserve[3];
    size_t reserve_size[3];
    fg_syn_unit *unit;     /* the result */
} fg_parse_state;

/* Parses source[0..length) in mode. Syntax errors go to sink; the statements
 * (or the expression) that parsed go to *out, allocated in arena. Returns 0,
 * or -1 when out of memory (then *out may hold a partial unit). */
int fg_parse(fg_arena *arena, fg_diag_sink *sink, const fg_allocator *alloc, const char *source,
             size_t length, fg_parse_mode mode, fg_syn_unit **out);

/* fg_parse with another token limit (1 <= max_token <= FG_MAX_TOKEN): lets a
 * test reach the "token too long" paths with small inputs. */
int fg_parse_limited(fg_arena *arena, fg_diag_sink *sink, const fg_allocator *alloc,
                     const char *source, size_t length, fg_parse_mode mode, size_t max_token,
                     fg_syn_unit **out);

/* Implemented in grammar/lexer.l: a scanner fed from st->source in bounded
 * pieces (never a copy of the whole text). fg_scan_open returns 0 or -1 (out
 * of memory, nothing left allocated); fg_scan_close frees what open took. */
int fg_scan_open(fg_parse_state *st, void **scanner);
void fg_scan_close(fg_parse_state *st, void *scanner);

#endif /* FG_PARSE_H */
