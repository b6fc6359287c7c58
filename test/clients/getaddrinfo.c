/* What an application in a pod does to find a service: getaddrinfo(3), as each libc implements it.
 * Prints one address per line (IPv4 and IPv6, de-duplicated by the libc), or the error text and exits 2. */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s NAME\n", argv[0]);
    return 64;
  }
  struct addrinfo hints, *res, *ai;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  int rc = getaddrinfo(argv[1], NULL, &hints, &res);
  if (rc != 0) {
    printf("error: %s\n", gai_strerror(rc));
    return 2;
  }
  for (ai = res; ai != NULL; ai = ai->ai_next) {
    char text[INET6_ADDRSTRLEN];
    const void *addr = ai->ai_family == AF_INET ? (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr
                                                : (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
    inet_ntop(ai->ai_family, addr, text, sizeof text);
    printf("%s\n", text);
  }
  freeaddrinfo(res);
  return 0;
}
