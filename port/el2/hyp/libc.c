// SPDX-License-Identifier: MIT
/*
 * port/el2/hyp/libc.c - what Debian's libfdt.a (libfdt-dev:arm64, built for Linux userspace
 * with -fstack-protector-strong) needs beyond port/el2/libc_min.c.
 */
#include <stddef.h>
#include <stdint.h>

#include "el2.h"

size_t strlen(const char *s);
size_t strnlen(const char *s, size_t n);
char *strchr(const char *s, int c);
char *strrchr(const char *s, int c);
void *memchr(const void *s, int c, size_t n);
int strcmp(const char *a, const char *b);
unsigned long strtoul(const char *s, char **end, int base);
void __stack_chk_fail(void);

uintptr_t __stack_chk_guard = 0x5a3c96e1d2b4f078UL;

void __stack_chk_fail(void)
{
	el2_printf("hyp: stack protector: corrupted stack\n");
	el2_exit(1);
}

size_t strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

size_t strnlen(const char *s, size_t max)
{
	size_t n = 0;

	while (n < max && s[n])
		n++;
	return n;
}

char *strchr(const char *s, int c)
{
	for (;; s++) {
		if (*s == (char)c)
			return (char *)s;
		if (!*s)
			return NULL;
	}
}

char *strrchr(const char *s, int c)
{
	const char *r = NULL;

	for (;; s++) {
		if (*s == (char)c)
			r = s;
		if (!*s)
			return (char *)r;
	}
}

void *memchr(const void *s, int c, size_t n)
{
	const unsigned char *p = s;

	for (size_t i = 0; i < n; i++)
		if (p[i] == (unsigned char)c)
			return (void *)(p + i);
	return NULL;
}

int strcmp(const char *a, const char *b)
{
	while (*a && *a == *b) {
		a++;
		b++;
	}
	return (unsigned char)*a - (unsigned char)*b;
}

static int digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'Z')
		return c - 'A' + 10;
	return 99;
}

unsigned long strtoul(const char *s, char **end, int base)
{
	unsigned long v = 0;

	while (*s == ' ')
		s++;
	if ((base == 0 || base == 16) && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		s += 2;
		base = 16;
	} else if (base == 0) {
		base = s[0] == '0' ? 8 : 10;
	}
	while (digit(*s) < base)
		v = v * (unsigned long)base + (unsigned long)digit(*s++);
	if (end)
		*end = (char *)s;
	return v;
}

/* The host facts el2.h promises (el2_port.c has them for the test images). */
void el2_read_idregs(struct s2_idregs *r)
{
	__asm__ volatile("mrs %0, id_aa64mmfr0_el1" : "=r"(r->mmfr0));
	__asm__ volatile("mrs %0, id_aa64mmfr1_el1" : "=r"(r->mmfr1));
	__asm__ volatile("mrs %0, s3_0_c0_c7_2" : "=r"(r->mmfr2));
	__asm__ volatile("mrs %0, id_aa64pfr1_el1" : "=r"(r->pfr1));
	__asm__ volatile("mrs %0, ctr_el0" : "=r"(r->ctr));
}

uint64_t el2_counter(void)
{
	uint64_t v;

	__asm__ volatile("isb; mrs %0, cntpct_el0" : "=r"(v) : : "memory");
	return v;
}

uint64_t el2_counter_freq(void)
{
	uint64_t v;

	__asm__ volatile("mrs %0, cntfrq_el0" : "=r"(v));
	return v;
}
