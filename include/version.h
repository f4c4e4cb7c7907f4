#ifndef MIDSOPS_VERSION_H
#define MIDSOPS_VERSION_H
#define MIDSOPS_VERSION "0.1.0"
/* `git describe` of the checkout it was built from; empty outside one. */
extern const char midsops_git_desc[];
#endif
