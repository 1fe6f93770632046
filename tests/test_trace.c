/*
 * test_trace.c -- the trace reader of `fluxgate simulate` (cli/fg_trace.c):
 * what a trace may hold, and that every malformed row is an error with its
 * line number rather than a row silently skipped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <math.h>

#include <cmocka.h>

#include "fg_trace.h"

/* Reads text to its end; returns how many rows it gave, or -1 on an error
 * (then *line and msg say where and what). rows[] receives up to cap rows. */
static int read_all(const char *text, fg_trace_row *rows, int cap, int *line, char *msg, size_t msg_cap)
{
    fg_trace_reader r;
    fg_trace_row row;
    int n = 0, rc;
    fg_trace_init(&r, text, strlen(text));
    while ((rc = fg_trace_next(&r, &row, line, msg, msg_cap)) == 1) {
        if (n < cap)
            rows[n] = row;
        n++;
    }
    return rc < 0 ? -1 : n;
}

/* Asserts that text fails at line with a message containing fragment. */
static void assert_fails(const char *text, int line, const char *fragment)
{
    fg_trace_row rows[8];
    char msg[200] = "";
    int got_line = 0;
    assert_int_equal(read_all(text, rows, 8, &got_line, msg, sizeof msg), -1);
    assert_int_equal(got_line, line);
    if (strstr(msg, fragment) == NULL)
        fail_msg("message '%s' does not contain '%s'", msg, fragment);
}

static void reads_the_three_kinds_of_outcome(void **state)
{
    fg_trace_row rows[4];
    char msg[200];
    int line = 0;
    (void)state;
    assert_int_equal(read_all("time,outcome,duration,status\n"
                              "0,ok,0.1,200\n"
                              "0.5,error,0.25,503\n"
                              "1.5,connection refused,2\n",
                              rows, 4, &line, msg, sizeof msg),
                     3);
    assert_int_equal(rows[0].line, 2);
    assert_int_equal(rows[0].kind, FG_TRACE_OK);
    assert_null(rows[0].type);
    assert_true(rows[0].has_status);
    assert_int_equal(rows[0].status, 200);
    assert_true(rows[0].duration == 0.1);

    assert_int_equal(rows[1].kind, FG_TRACE_ERROR);
    assert_int_equal(rows[1].type_len, 5);
    assert_memory_equal(rows[1].type, "error", 5);
    assert_int_equal(rows[1].status, 503);
    assert_true(rows[1].time == 0.5);

    assert_int_equal(rows[2].line, 4);
    assert_int_equal(rows[2].kind, FG_TRACE_ERROR);
    assert_int_equal(rows[2].type_len, strlen("connection refused"));
    assert_memory_equal(rows[2].type, "connection refused", rows[2].type_len);
    assert_false(rows[2].has_status);
    assert_true(rows[2].duration == 2.0);
}

static void status_column_is_optional_and_may_be_empty(void **state)
{
    fg_trace_row rows[4];
    char msg[200];
    int line = 0;
    (void)state;
    assert_int_equal(read_all("time,outcome,duration\n1,ok,1\n", rows, 4, &line, msg, sizeof msg), 1);
    assert_false(rows[0].has_status);
    assert_int_equal(read_all("time,outcome,duration,status\n1,ok,1,\n", rows, 4, &line, msg, sizeof msg),
                     1);
    assert_false(rows[0].has_status);
}

static void accepts_blanks_crlf_blank_lines_and_no_final_newline(void **state)
{
    fg_trace_row rows[4];
    char msg[200];
    int line = 0;
    (void)state;
    assert_int_equal(read_all(" Time , Outcome , Duration , Status \r\n"
                              "\r\n"
                              "  1.5 , timeout , 2e0 , 504 \r\n"
                              "1.5,ok,.5",
                              rows, 4, &line, msg, sizeof msg),
                     2);
    assert_int_equal(rows[0].line, 3);
    assert_true(rows[0].time == 1.5);
    assert_int_equal(rows[0].type_len, 7);
    assert_int_equal(rows[0].status, 504);
    assert_int_equal(rows[1].line, 4);
    assert_true(rows[1].duration == 0.5);
}

static void skips_a_utf8_byte_order_mark(void **state)
{
    fg_trace_row rows[2];
    char msg[200];
    int line = 0;
    (void)state;
    assert_int_equal(read_all("\xEF\xBB\xBFtime,outcome,duration\n1,ok,1\n", rows, 2, &line, msg, sizeof msg),
                     1);
    /* Only at the very start: elsewhere it is an outcome character like any other byte. */
    assert_fails("time,outcome,duration\n\xEF\xBB\xBF" "1,ok,1\n", 2, "time is not a number");
}

static void equal_times_are_in_order(void **state)
{
    fg_trace_row rows[4];
    char msg[200];
    int line = 0;
    (void)state;
    assert_int_equal(read_all("time,outcome,duration\n2,ok,0\n2,ok,0\n", rows, 4, &line, msg, sizeof msg),
                     2);
}

static void an_empty_file_is_an_error(void **state)
{
    (void)state;
    assert_fails("", 1, "empty trace");
    assert_fails("\n\n", 2, "empty trace");
}

static void a_header_without_calls_is_an_error(void **state)
{
    (void)state;
    assert_fails("time,outcome,duration\n", 1, "no calls");
}

static void a_missing_header_is_an_error(void **state)
{
    (void)state;
    /* Taking the first call for a header would silently drop it. */
    assert_fails("0,ok,0.1\n1,ok,0.1\n", 1, "expected the header line");
    assert_fails("time,result,duration\n0,ok,1\n", 1, "expected the header line");
}

static void missing_columns_are_an_error(void **state)
{
    (void)state;
    assert_fails("time,outcome,duration\n0,ok,1\n1,ok\n", 3, "missing columns");
    assert_fails("time,outcome,duration\n0\n", 2, "got 1 column");
}

static void extra_columns_are_an_error(void **state)
{
    (void)state;
    assert_fails("time,outcome,duration\n0,ok,1,200\n", 2, "too many columns");
    assert_fails("time,outcome,duration,status\n0,ok,1,200,x\n", 2, "too many columns");
}

static void a_time_that_is_not_a_number_is_an_error(void **state)
{
    (void)state;
    assert_fails("time,outcome,duration\n0,ok,1\nsoon,ok,1\n", 3, "time is not a number: 'soon'");
    assert_fails("time,outcome,duration\n,ok,1\n", 2, "time is not a number");
    assert_fails("time,outcome,duration\n1.2.3,ok,1\n", 2, "time is not a number");
    /* strtod would take these; a trace must not. */
    assert_fails("time,outcome,duration\ninf,ok,1\n", 2, "time is not a number");
    assert_fails("time,outcome,duration\nnan,ok,1\n", 2, "time is not a number");
    assert_fails("time,outcome,duration\n0x10,ok,1\n", 2, "time is not a number");
    assert_fails("time,outcome,duration\n1e999,ok,1\n", 2, "time is not a number");
    assert_fails("time,outcome,duration\n1e,ok,1\n", 2, "time is not a number");
}

static void time_going_backwards_is_an_error(void **state)
{
    (void)state;
    assert_fails("time,outcome,duration\n0,ok,1\n13,ok,1\n12.5,ok,1\n", 4,
                 "time goes backwards: 12.5 after 13");
}

static void negative_time_and_duration_are_errors(void **state)
{
    (void)state;
    assert_fails("time,outcome,duration\n-1,ok,1\n", 2, "negative time");
    assert_fails("time,outcome,duration\n0,ok,-0.5\n", 2, "negative duration");
    assert_fails("time,outcome,duration\n0,ok,fast\n", 2, "duration is not a number");
}

/* "-0" (or an underflow such as -1e-999) is zero, not a negative time: it
 * must read as +0, or the summary says "from -0.000 s". */
static void a_negative_zero_reads_as_zero(void **state)
{
    fg_trace_row rows[4];
    char msg[200];
    int line = 0;
    (void)state;
    assert_int_equal(read_all("time,outcome,duration\n-0,ok,-0\n-1e-999,ok,-0.0e5\n", rows, 4, &line, msg,
                              sizeof msg),
                     2);
    for (int i = 0; i < 2; i++) {
        assert_false(signbit(rows[i].time));
        assert_false(signbit(rows[i].duration));
    }
}

static void a_bad_status_is_an_error(void **state)
{
    (void)state;
    assert_fails("time,outcome,duration,status\n0,ok,1,2xx\n", 2, "status");
    assert_fails("time,outcome,duration,status\n0,ok,1,-200\n", 2, "status");
    assert_fails("time,outcome,duration,status\n0,ok,1,200.5\n", 2, "status");
}

static void a_bad_outcome_is_an_error(void **state)
{
    (void)state;
    assert_fails("time,outcome,duration\n0,,1\n", 2, "empty outcome");
    assert_fails("time,outcome,duration\n0,\"ok\",1\n", 2, "quote");
    assert_fails("time,outcome,duration\n0,OK,1\n", 2, "lower case");
}

static void an_error_sticks(void **state)
{
    fg_trace_reader r;
    fg_trace_row row;
    char msg[100];
    int line = 0;
    const char *text = "time,outcome,duration\nx,ok,1\n1,ok,1\n";
    (void)state;
    fg_trace_init(&r, text, strlen(text));
    assert_int_equal(fg_trace_next(&r, &row, &line, msg, sizeof msg), -1);
    line = 0;
    assert_int_equal(fg_trace_next(&r, &row, &line, msg, sizeof msg), -1);
    assert_int_equal(line, 2);
}

static void reads_a_buffer_that_is_not_nul_terminated(void **state)
{
    fg_trace_reader r;
    fg_trace_row row;
    char msg[100];
    int line = 0;
    /* The reader must stop at len: "9" after it would make the duration 19. */
    const char text[] = "time,outcome,duration\n0,ok,19";
    (void)state;
    fg_trace_init(&r, text, sizeof text - 2);
    assert_int_equal(fg_trace_next(&r, &row, &line, msg, sizeof msg), 1);
    assert_true(row.duration == 1.0);
    assert_int_equal(fg_trace_next(&r, &row, &line, msg, sizeof msg), 0);
}

static void a_tiny_message_buffer_is_enough(void **state)
{
    fg_trace_reader r;
    fg_trace_row row;
    char msg[4];
    int line = 0;
    (void)state;
    fg_trace_init(&r, "", 0);
    assert_int_equal(fg_trace_next(&r, &row, &line, msg, sizeof msg), -1);
    assert_int_equal(strlen(msg), 3);
    fg_trace_init(&r, "", 0);
    assert_int_equal(fg_trace_next(&r, &row, NULL, NULL, 0), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reads_the_three_kinds_of_outcome),
        cmocka_unit_test(status_column_is_optional_and_may_be_empty),
        cmocka_unit_test(accepts_blanks_crlf_blank_lines_and_no_final_newline),
        cmocka_unit_test(skips_a_utf8_byte_order_mark),
        cmocka_unit_test(equal_times_are_in_order),
        cmocka_unit_test(an_empty_file_is_an_error),
        cmocka_unit_test(a_header_without_calls_is_an_error),
        cmocka_unit_test(a_missing_header_is_an_error),
        cmocka_unit_test(missing_columns_are_an_error),
        cmocka_unit_test(extra_columns_are_an_error),
        cmocka_unit_test(a_time_that_is_not_a_number_is_an_error),
        cmocka_unit_test(time_going_backwards_is_an_error),
        cmocka_unit_test(negative_time_and_duration_are_errors),
        cmocka_unit_test(a_negative_zero_reads_as_zero),
        cmocka_unit_test(a_bad_status_is_an_error),
        cmocka_unit_test(a_bad_outcome_is_an_error),
        cmocka_unit_test(an_error_sticks),
        cmocka_unit_test(reads_a_buffer_that_is_not_nul_terminated),
        cmocka_unit_test(a_tiny_message_buffer_is_enough),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
