/* The floor for a custom runtime: a blocking socket, GET /next, POST the event back.
 *
 * A benchmark contender, not a runtime to deploy: no error reporting, no context, one
 * keep-alive connection, the body echoed as it came. What it costs per invocation is
 * what any runtime must pay to move the same bytes through the Runtime API, so the
 * warm-path suite reports the other runtimes as multiples of it.
 *
 * Built by the suite with `cc -O2`; reads AWS_LAMBDA_RUNTIME_API like any runtime.
 */
#define _GNU_SOURCE /* memmem */
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

static char *buf;
static size_t cap = 1 << 16, len; /* bytes held in buf (possibly past one response) */

static void die(const char *what) {
    perror(what);
    exit(1);
}

static void fill(int fd) {
    if (len == cap) {
        cap *= 2;
        buf = realloc(buf, cap + 1);
        if (!buf) die("realloc");
    }
    ssize_t n = recv(fd, buf + len, cap - len, 0);
    if (n <= 0) die("recv");
    len += (size_t)n;
}

/* Reads one response; returns its head length, sets *body_len and copies the request id. */
static size_t read_response(int fd, size_t *body_len, char *request_id, size_t id_cap) {
    char *end;
    for (;;) {
        buf[len] = 0; /* buf has cap + 1 bytes */
        if (len && (end = memmem(buf, len, "\r\n\r\n", 4))) break;
        fill(fd);
    }
    size_t head = (size_t)(end - buf) + 4;
    *body_len = 0;
    if (request_id) request_id[0] = 0;
    for (char *line = strstr(buf, "\r\n") + 2; line < end; line = strstr(line, "\r\n") + 2) {
        if (!strncasecmp(line, "Content-Length:", 15)) {
            *body_len = strtoul(line + 15, NULL, 10);
        } else if (request_id && !strncasecmp(line, "Lambda-Runtime-Aws-Request-Id:", 30)) {
            char *value = line + 30;
            while (*value == ' ') value++;
            size_t n = strcspn(value, "\r");
            if (n >= id_cap) n = id_cap - 1;
            memcpy(request_id, value, n);
            request_id[n] = 0;
        }
    }
    while (len < head + *body_len) {
        if (head + *body_len > cap) {
            cap = head + *body_len;
            buf = realloc(buf, cap + 1);
            if (!buf) die("realloc");
        }
        fill(fd);
    }
    return head;
}

/* Drops the first `n` bytes of buf (a response that has been dealt with). */
static void consume(size_t n) {
    memmove(buf, buf + n, len - n);
    len -= n;
}

static void send_all(int fd, struct iovec *iov, int count) {
    while (count) {
        ssize_t n = writev(fd, iov, count);
        if (n < 0) die("writev");
        while (count && (size_t)n >= iov->iov_len) {
            n -= (ssize_t)iov->iov_len;
            iov++;
            count--;
        }
        if (count) {
            iov->iov_base = (char *)iov->iov_base + n;
            iov->iov_len -= (size_t)n;
        }
    }
}

int main(void) {
    const char *api = getenv("AWS_LAMBDA_RUNTIME_API");
    if (!api) return 2;
    char host[256];
    snprintf(host, sizeof host, "%s", api);
    char *colon = strrchr(host, ':');
    if (!colon) return 2;
    *colon = 0;
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *ai;
    if (getaddrinfo(host, colon + 1, &hints, &ai)) return 2;
    int fd = socket(ai->ai_family, ai->ai_socktype, 0);
    if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen)) die("connect");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    buf = malloc(cap + 1);

    char next[512];
    int next_len = snprintf(next, sizeof next,
                            "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: %s\r\n\r\n", api);
    char request_id[128], head[512];
    for (;;) {
        struct iovec get = {next, (size_t)next_len};
        send_all(fd, &get, 1);
        size_t body_len, head_len = read_response(fd, &body_len, request_id, sizeof request_id);
        int n = snprintf(head, sizeof head,
                         "POST /2018-06-01/runtime/invocation/%s/response HTTP/1.1\r\nHost: %s\r\n"
                         "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                         request_id, api, body_len);
        struct iovec post[2] = {{head, (size_t)n}, {buf + head_len, body_len}};
        send_all(fd, post, 2);
        consume(head_len + body_len);
        size_t accepted_len, accepted_head = read_response(fd, &accepted_len, NULL, 0);
        consume(accepted_head + accepted_len);
    }
}
