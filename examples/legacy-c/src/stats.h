/* libstats: the "legacy analytics library" of the example, a shared library of its own. */
#ifndef STATS_H
#define STATS_H

#include <stddef.h>

struct stats {
    size_t count;
    double sum, mean, min, max;
};

/* Summarise n values; returns 0, or -1 when n is 0. */
int stats_summarise(const double *values, size_t n, struct stats *out);

/* "libstats 1.0": lets the caller show which library it loaded. */
const char *stats_version(void);

#endif
