/*
 * metrics: the Prometheus text file ([metrics] textfile).
 */
#ifndef JICENG_METRICS_H
#define JICENG_METRICS_H

struct broker;

/* Write the text file now (no-op when [metrics] textfile is empty). */
void metrics_write(struct broker *b);

#endif
