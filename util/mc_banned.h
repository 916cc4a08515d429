/* mc_banned.h — functions that write past buffers or hide state; use mc_buf instead. */
#ifndef MC_BANNED_H
#define MC_BANNED_H
/* the real declarations first: a libc that declares these as functions
 * (musl) must see them before the macros below rename them */
#include <stdio.h>
#include <string.h>
#define MC_BANNED(f) sorry_##f##_is_banned_use_mc_buf
#undef strcpy
#define strcpy(a, b) MC_BANNED(strcpy)
#undef strcat
#define strcat(a, b) MC_BANNED(strcat)
#undef sprintf
#define sprintf(...) MC_BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) MC_BANNED(vsprintf)
#undef strtok
#define strtok(a, b) MC_BANNED(strtok)
#undef gets
#define gets(a) MC_BANNED(gets)
#endif
