#include "stats.h"

int stats_summarise(const double *values, size_t n, struct stats *out)
{
    if (n == 0)
        return -1;
    out->count = n;
    out->sum = 0;
    out->min = out->max = values[0];
    for (size_t i = 0; i < n; i++) {
        out->sum += values[i];
        if (values[i] < out->min)
            out->min = values[i];
        if (values[i] > out->max)
            out->max = values[i];
    }
    out->mean = out->sum / (double)n;
    return 0;
}

const char *stats_version(void)
{
    return "libstats 1.0";
}
