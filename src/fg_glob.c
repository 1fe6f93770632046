/*
 * fg_glob.c -- the classic greedy glob matcher (backtrack to the last star).
 *
 * Why it is enough to remember only the LAST star: once a later star has
 * matched, any way of letting an earlier star swallow more text can be
 * replayed by the later star instead, so earlier choices never need to be
 * revisited. No recursion, no allocation. The star's resume point only
 * moves forward through the text (one byte per backtrack, and a new star is
 * met no earlier than the last resume point), so there are at most
 * text_len backtracks, each re-matching at most one star-free segment of
 * the pattern: O(text_len x longest segment), linear in the message for a
 * given pattern ("*timeout*" costs at most 8 steps per message byte).
 */
#include "fg_glob.h"

int fg_glob_match(const char *pattern, size_t pattern_len, const char *text, size_t text_len) {
    size_t p = 0, t = 0;
    size_t star = (size_t)-1; /* the pattern index just after the last '*' seen */
    size_t resume = 0;        /* where in the text that star's match would end next */
    while (t < text_len) {
        if (p < pattern_len && pattern[p] == '*') {
            star = ++p; /* first let the star match nothing */
            resume = t;
        } else if (p < pattern_len && (pattern[p] == '?' || pattern[p] == text[t])) {
            p++;
            t++;
        } else if (star != (size_t)-1) {
            p = star; /* the star swallows one more byte and we retry */
            t = ++resume;
        } else {
            return 0;
        }
    }
    while (p < pattern_len && pattern[p] == '*') p++; /* trailing stars match nothing */
    return p == pattern_len;
}
