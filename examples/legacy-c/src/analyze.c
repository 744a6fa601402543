/*
 * analyze: summarise the numbers of an event {"values": [1, 2.5, ...]} with libstats.
 *
 *   analyze            one event on stdin, one JSON result on stdout (per-invocation exec)
 *   analyze --serve    one event per stdin line, one result line each (co-process);
 *                      exits when stdin closes
 *
 * Progress goes to stderr (lambdaboot turns each line into a log record); a bad event is
 * reported on stderr with exit status 2, which lambdaboot reports as Function.NativeExitError.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"

#define MAX_VALUES 100000

static double values[MAX_VALUES];

/* Read the numbers of the "values" array in text; returns their count, or -1. */
static long parse_values(const char *text)
{
    const char *p = strstr(text, "\"values\"");
    if (p == NULL || (p = strchr(p, '[')) == NULL)
        return -1;
    p++;
    long n = 0;
    for (;;) {
        while (*p == ' ' || *p == ',' || *p == '\n' || *p == '\r' || *p == '\t')
            p++;
        if (*p == ']')
            return n;
        char *end;
        double v = strtod(p, &end);
        if (end == p || n == MAX_VALUES)
            return -1;
        values[n++] = v;
        p = end;
    }
}

/* Answer one event; returns 0, or 2 for an event without numbers. */
static int answer(const char *event)
{
    struct stats s;
    long n = parse_values(event);
    if (n <= 0 || stats_summarise(values, (size_t)n, &s) != 0) {
        fprintf(stderr, "analyze: the event has no \"values\" array of numbers\n");
        return 2;
    }
    fprintf(stderr, "analyze: summarised %ld values\n", n);
    printf("{\"count\":%zu,\"sum\":%.17g,\"mean\":%.17g,\"min\":%.17g,\"max\":%.17g,\"library\":\"%s\"}\n",
           s.count, s.sum, s.mean, s.min, s.max, stats_version());
    fflush(stdout);
    return 0;
}

static char *read_all(FILE *in)
{
    size_t size = 0, cap = 4096;
    char *buf = malloc(cap);
    size_t got;
    while (buf != NULL && (got = fread(buf + size, 1, cap - size - 1, in)) > 0) {
        size += got;
        if (cap - size < 2)
            buf = realloc(buf, cap *= 2);
    }
    if (buf != NULL)
        buf[size] = '\0';
    return buf;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--serve") == 0) {
        char *line = NULL;
        size_t cap = 0;
        while (getline(&line, &cap, stdin) > 0) {
            if (answer(line) != 0) {
                printf("{\"error\":\"no values\"}\n");
                fflush(stdout);
            }
        }
        free(line);
        return 0;
    }
    char *event = read_all(stdin);
    if (event == NULL)
        return 1;
    int status = answer(event);
    free(event);
    return status;
}
