/* Frame I/O on blocking descriptors: see rt_proto.h. The server side reads
 * frames through libuv instead (rt_pool.c) but shares the header layout. */
#include "rt_proto.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

static int
write_all(int fd, struct iovec *iov, int n)
{
    while (n > 0) {
        ssize_t w = writev(fd, iov, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        while (n > 0 && (size_t)w >= iov->iov_len) {
            w -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + w;
            iov->iov_len -= (size_t)w;
        }
    }
    return 0;
}

int
rt_frame_write(int fd, const struct rt_frame_hdr *hdr, const void *payload, struct lf_err *err)
{
    struct iovec iov[2] = {
        { (void *)hdr, sizeof(*hdr) },
        { (void *)payload, hdr->len },
    };

    if (write_all(fd, iov, hdr->len > 0 ? 2 : 1) != 0)
        return lf_err_set(err, LF_EIO, "cannot write frame: %s", strerror(errno));
    return LF_OK;
}

/* Reads exactly n bytes. Returns n, 0 at a clean end of stream before any
 * byte, or -1. */
static ssize_t
read_all(int fd, void *buf, size_t n)
{
    size_t got = 0;

    while (got < n) {
        ssize_t r = read(fd, (char *)buf + got, n - got);

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            return got == 0 ? 0 : -1;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

int
rt_frame_read(int fd, struct rt_frame_hdr *hdr, char **payload, struct lf_err *err)
{
    ssize_t r = read_all(fd, hdr, sizeof(*hdr));
    char *buf;

    if (r == 0)
        return lf_err_set(err, LF_ENOENT, "end of stream");
    if (r < 0)
        return lf_err_set(err, LF_EIO, "cannot read frame header: %s", strerror(errno));
    if (hdr->len > RT_FRAME_MAX_BYTES)
        return lf_err_set(err, LF_ETOOBIG, "frame of %u bytes is too large", hdr->len);
    buf = malloc((size_t)hdr->len + 1);
    if (buf == NULL)
        return lf_err_set(err, LF_ENOMEM, "out of memory");
    if (hdr->len > 0 && read_all(fd, buf, hdr->len) != (ssize_t)hdr->len) {
        free(buf);
        return lf_err_set(err, LF_EIO, "truncated frame");
    }
    buf[hdr->len] = '\0';
    *payload = buf;
    return LF_OK;
}

/* Room for one passed descriptor, aligned for a cmsghdr. */
union fd_space {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
};

/* A one-byte message with room for one descriptor. */
static void
fd_msg(struct msghdr *msg, struct iovec *iov, char *byte, union fd_space *u)
{
    memset(msg, 0, sizeof(*msg));
    memset(u, 0, sizeof(*u));
    iov->iov_base = byte;
    iov->iov_len = 1;
    msg->msg_iov = iov;
    msg->msg_iovlen = 1;
    msg->msg_control = u->buf;
    msg->msg_controllen = sizeof(u->buf);
}

int
rt_fd_send(int sock, int fd_to_pass, struct lf_err *err)
{
    char byte = 'F';
    struct iovec iov;
    union fd_space u;
    struct msghdr msg;
    struct cmsghdr *c;

    fd_msg(&msg, &iov, &byte, &u);
    c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd_to_pass, sizeof(int));
    while (sendmsg(sock, &msg, MSG_NOSIGNAL) < 0) {
        if (errno != EINTR)
            return lf_err_set(err, LF_EIO, "cannot pass a socket: %s", strerror(errno));
    }
    return LF_OK;
}

int
rt_fd_recv(int sock, int *fd_out, struct lf_err *err)
{
    char byte;
    struct iovec iov;
    union fd_space u;
    struct msghdr msg;
    struct cmsghdr *c;
    ssize_t r;

    fd_msg(&msg, &iov, &byte, &u);
    do {
        r = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    } while (r < 0 && errno == EINTR);
    if (r == 0)
        return lf_err_set(err, LF_ENOENT, "end of stream");
    if (r < 0)
        return lf_err_set(err, LF_EIO, "cannot receive a socket: %s", strerror(errno));
    c = CMSG_FIRSTHDR(&msg);
    if (c == NULL || c->cmsg_type != SCM_RIGHTS)
        return lf_err_set(err, LF_EIO, "no socket in the message");
    memcpy(fd_out, CMSG_DATA(c), sizeof(int));
    return LF_OK;
}
