// SPDX-License-Identifier: MIT
/*
 * port/el2/uart.c - console output on QEMU virt's PL011 (0x09000000), a small printf, the
 * semihosting exit and the library's panic hook.
 *
 * The UART needs no set-up under QEMU: writing the data register transmits. EL2 runs with its
 * MMU off, so every access here is a Device access to the physical address.
 */
#include <stdarg.h>

#include "el2.h"
#include "s2mmu/env.h"

#define PL011_BASE 0x09000000UL
#define PL011_DR 0x00
#define PL011_FR 0x18
#define PL011_FR_TXFF (1u << 5)

static void el2_putc_raw(char c)
{
	volatile uint32_t *fr = (volatile uint32_t *)(PL011_BASE + PL011_FR);
	volatile uint32_t *dr = (volatile uint32_t *)(PL011_BASE + PL011_DR);

	while (*fr & PL011_FR_TXFF)
		;
	*dr = (uint32_t)(unsigned char)c;
}

void el2_putc(char c)
{
	if (c == '\n')
		el2_putc_raw('\r');
	el2_putc_raw(c);
}

void el2_puts(const char *s)
{
	while (*s)
		el2_putc(*s++);
}

static void el2_put_num(uint64_t v, unsigned int base, bool neg, int width, char pad)
{
	char buf[24];
	int n = 0;

	do {
		unsigned int d = (unsigned int)(v % base);
		buf[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
		v /= base;
	} while (v);
	if (neg)
		buf[n++] = '-';
	while (width-- > n)
		el2_putc(pad);
	while (n)
		el2_putc(buf[--n]);
}

/*
 * Conversions: %d %i %u %x %p %s %c %%, with a width ("%08x", "%4d") and the length modifiers
 * l and ll (64-bit either way). No floating point: EL2 code is built -mgeneral-regs-only.
 */
void el2_vprintf(const char *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			el2_putc(*fmt);
			continue;
		}
		fmt++;
		char pad = ' ';
		int width = 0;
		int longs = 0;
		if (*fmt == '0') {
			pad = '0';
			fmt++;
		}
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		while (*fmt == 'l') {
			longs++;
			fmt++;
		}
		switch (*fmt) {
		case 'd':
		case 'i': {
			int64_t v = longs ? va_arg(ap, int64_t) : va_arg(ap, int);
			el2_put_num(v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v, 10, v < 0,
				    width, pad);
			break;
		}
		case 'u':
			el2_put_num(longs ? va_arg(ap, uint64_t) : va_arg(ap, unsigned int), 10,
				    false, width, pad);
			break;
		case 'x':
			el2_put_num(longs ? va_arg(ap, uint64_t) : va_arg(ap, unsigned int), 16,
				    false, width, pad);
			break;
		case 'p':
			el2_puts("0x");
			el2_put_num((uintptr_t)va_arg(ap, void *), 16, false, width, pad);
			break;
		case 's': {
			const char *s = va_arg(ap, const char *);
			el2_puts(s ? s : "(null)");
			break;
		}
		case 'c':
			el2_putc((char)va_arg(ap, int));
			break;
		case '%':
			el2_putc('%');
			break;
		case '\0':
			return;
		default:
			el2_putc('%');
			el2_putc(*fmt);
			break;
		}
	}
}

void el2_printf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	el2_vprintf(fmt, ap);
	va_end(ap);
}

/*
 * Semihosting SYS_EXIT (0x18) from AArch64: X1 points to a two-word block {reason, subcode};
 * with reason ADP_Stopped_ApplicationExit (0x20026) the subcode is the exit status QEMU
 * returns ("Semihosting for AArch32 and AArch64", SYS_EXIT). The trap is HLT #0xF000.
 */
_Noreturn void el2_exit(int status)
{
	static volatile uint64_t block[2];

	block[0] = 0x20026;
	block[1] = (uint64_t)(int64_t)status;
	register uint64_t x0 __asm__("x0") = 0x18;
	register uint64_t x1 __asm__("x1") = (uint64_t)(uintptr_t)block;
	__asm__ volatile("hlt #0xf000" : : "r"(x0), "r"(x1) : "memory");
	/* Without -semihosting-config the HLT is undefined and we never get here; if we do,
	 * spin so the run's timeout ends it. */
	for (;;)
		__asm__ volatile("wfi");
}

_Noreturn void s2_env_panic(const char *msg, const char *file, int line)
{
	el2_printf("s2mmu panic: %s at %s:%d\n", msg, file, line);
	el2_exit(1);
}
