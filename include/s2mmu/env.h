/* SPDX-License-Identifier: MIT */
/*
 * s2mmu/env.h - the library's whole view of its environment.
 *
 * This is the only header of the library core that knows whether it is built hosted (tests,
 * tools) or freestanding (an EL2 hypervisor). It provides:
 *   - fixed-width integer types, size_t, bool (all freestanding headers in C11);
 *   - the panic hook S2_BUG()/S2_BUG_ON() used for broken invariants (never for bad input,
 *     which is reported with a negative S2_E* code);
 *   - 64-bit atomics for descriptors and counters;
 *   - distinct address types for IPAs, physical addresses and host virtual addresses.
 *
 * The panic hook is a function the embedder supplies: s2_env_panic(). The hosted build of the
 * library provides one (src/env_hosted.c) that prints and aborts; a freestanding embedder links
 * its own (the EL2 port's reports over the UART and exits QEMU with a failure status).
 */
#ifndef S2MMU_ENV_H
#define S2MMU_ENV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__STDC_HOSTED__) && __STDC_HOSTED__ && !defined(S2_FREESTANDING)
#define S2_HOSTED 1
#else
#define S2_HOSTED 0
#endif

/* ---- panic hook ------------------------------------------------------------------------ */

/**
 * s2_env_panic() - report a broken invariant and never return.
 * @msg:  the failed condition, as text.
 * @file: source file.
 * @line: source line.
 *
 * Supplied by the embedder (hosted: src/env_hosted.c prints to stderr and calls abort()).
 */
_Noreturn void s2_env_panic(const char *msg, const char *file, int line);

#define S2_BUG(msg) s2_env_panic((msg), __FILE__, __LINE__)
#define S2_BUG_ON(cond)                                                        \
	do {                                                                   \
		if (cond)                                                      \
			s2_env_panic("BUG_ON(" #cond ")", __FILE__, __LINE__); \
	} while (0)

/* ---- compiler helpers ------------------------------------------------------------------- */

#if defined(__GNUC__) || defined(__clang__)
#define S2_LIKELY(x) __builtin_expect(!!(x), 1)
#define S2_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define S2_ALWAYS_INLINE inline __attribute__((always_inline))
#define S2_NOINLINE __attribute__((noinline))
#define S2_CTZ64(x) __builtin_ctzll(x)
#define S2_CLZ64(x) __builtin_clzll(x)
#else
#error "s2mmu needs GCC or Clang for its atomic and bit builtins"
#endif

/* ---- atomics ---------------------------------------------------------------------------- */
/*
 * Descriptors are updated with single-copy-atomic 64-bit accesses (Arm ARM B2.2.1): a plain
 * store could be torn by the compiler, so every access to a live table goes through these.
 */
/** s2_atomic_load64() - single-copy-atomic relaxed load of *@p. Return: the value. */
static S2_ALWAYS_INLINE uint64_t s2_atomic_load64(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/** s2_atomic_load64_acquire() - load with acquire semantics: reads after it see what was
 * written before the release store that produced the value. Return: the value. */
static S2_ALWAYS_INLINE uint64_t s2_atomic_load64_acquire(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

/** s2_atomic_store64() - single-copy-atomic relaxed store of @v to *@p (no ordering). */
static S2_ALWAYS_INLINE void s2_atomic_store64(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}

/* Store with release semantics: everything written before (a new table's entries) is visible
 * to whoever observes the new value. */
static S2_ALWAYS_INLINE void s2_atomic_store64_release(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

/* ---- test hook: compare-and-swap interference (hosted test builds only) ------------------- */
/*
 * Paths taken only when a compare-and-swap loses (to another vCPU, or to a hardware AF/dirty
 * update) cannot be reached deterministically by a single-threaded test. In a hosted build
 * configured with S2_TEST_HOOKS (the CMake option of the same name, on with the tests), every
 * s2_atomic_cas64() first calls the hook installed with s2_env_set_cas_hook(), which may store
 * to *p (a racing update: the CAS then fails naturally) or return true (the CAS fails without
 * storing, *expected reloaded from *p, as a lost ABA race would). Without S2_TEST_HOOKS
 * (freestanding builds, benchmarks) none of this exists and the CAS is the bare builtin.
 * The hook is process-global and not synchronised: install it only while one thread runs.
 */
#if S2_HOSTED && defined(S2_TEST_HOOKS) && S2_TEST_HOOKS
#define S2_HAVE_CAS_HOOK 1
/**
 * typedef s2_cas_hook_fn - called before each s2_atomic_cas64().
 * @ctx: the context given to s2_env_set_cas_hook().
 * @p: the word about to be compared-and-swapped (the hook may store to it).
 * @expected: the value the caller expects. @new: the value it wants to store.
 * Return: true to make this CAS fail without storing; false to let it run.
 */
typedef bool (*s2_cas_hook_fn)(void *ctx, uint64_t *p, uint64_t expected, uint64_t new);
/** s2_env_set_cas_hook() - install @fn (NULL: remove). Hosted test builds only. */
void s2_env_set_cas_hook(s2_cas_hook_fn fn, void *ctx);
extern s2_cas_hook_fn s2_env_cas_hook;
extern void *s2_env_cas_hook_ctx;
#else
#define S2_HAVE_CAS_HOOK 0
#endif

/* Compare-and-swap; returns true and stores @new when *p == *expected, else loads *p into
 * *expected and returns false. Release on success, relaxed on failure. */
static S2_ALWAYS_INLINE bool s2_atomic_cas64(uint64_t *p, uint64_t *expected, uint64_t new)
{
#if S2_HAVE_CAS_HOOK
	if (S2_UNLIKELY(s2_env_cas_hook != NULL) &&
	    s2_env_cas_hook(s2_env_cas_hook_ctx, p, *expected, new)) {
		*expected = __atomic_load_n(p, __ATOMIC_RELAXED);
		return false;
	}
#endif
	return __atomic_compare_exchange_n(p, expected, new, false, __ATOMIC_RELEASE,
					   __ATOMIC_RELAXED);
}

/**
 * s2_atomic_cas64_acquire() - compare-and-swap with acquire semantics on success (relaxed on
 * failure), for taking a lock: what the previous holder wrote before releasing it is visible
 * afterwards. Not routed through the CAS test hook (a lock must not be made to fail).
 * Return: true when *@p was *@expected and now holds @new; else false, *@expected reloaded.
 */
static S2_ALWAYS_INLINE bool s2_atomic_cas64_acquire(uint64_t *p, uint64_t *expected, uint64_t new)
{
	return __atomic_compare_exchange_n(p, expected, new, false, __ATOMIC_ACQUIRE,
					   __ATOMIC_RELAXED);
}

/** s2_atomic_add32() - atomically add @delta (may be negative) to *@p, relaxed.
 * Return: the new value. */
static S2_ALWAYS_INLINE uint32_t s2_atomic_add32(uint32_t *p, int32_t delta)
{
	return __atomic_add_fetch(p, (uint32_t)delta, __ATOMIC_RELAXED);
}

/** s2_atomic_load32() / s2_atomic_store32() - relaxed 32-bit load / store. */
static S2_ALWAYS_INLINE uint32_t s2_atomic_load32(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static S2_ALWAYS_INLINE void s2_atomic_store32(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}

/* ---- distinct address types --------------------------------------------------------------- */
/*
 * An intermediate physical address (what the guest sees), a physical address (what the
 * stage-2 tables output) and a host virtual address (what the hypervisor dereferences) are
 * three different types, so passing one for another does not compile. They cost nothing at
 * -O1 and above.
 */
typedef struct {
	uint64_t ipa;
} s2_ipa_t;

typedef struct {
	uint64_t pa;
} s2_pa_t;

typedef struct {
	uintptr_t va;
} s2_hva_t;

static inline s2_ipa_t s2_ipa(uint64_t v)
{
	return (s2_ipa_t){ v };
}

static inline s2_pa_t s2_pa(uint64_t v)
{
	return (s2_pa_t){ v };
}

static inline s2_hva_t s2_hva(uintptr_t v)
{
	return (s2_hva_t){ v };
}

static inline uint64_t s2_ipa_val(s2_ipa_t a)
{
	return a.ipa;
}

static inline uint64_t s2_pa_val(s2_pa_t a)
{
	return a.pa;
}

static inline uintptr_t s2_hva_val(s2_hva_t a)
{
	return a.va;
}

static inline void *s2_hva_ptr(s2_hva_t a)
{
	return (void *)a.va;
}

static inline s2_hva_t s2_hva_from_ptr(const void *p)
{
	return (s2_hva_t){ (uintptr_t)p };
}

/* ---- small helpers -------------------------------------------------------------------------- */

#define S2_BIT(n) (UINT64_C(1) << (n))
/* Mask of bits @h down to @l inclusive (h >= l). */
#define S2_GENMASK(h, l) (((~UINT64_C(0)) >> (63 - (h))) & ((~UINT64_C(0)) << (l)))
#define S2_FIELD_GET(mask, v) (((v) & (mask)) >> S2_CTZ64(mask))
#define S2_FIELD_PREP(mask, v) ((((uint64_t)(v)) << S2_CTZ64(mask)) & (mask))
#define S2_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define S2_IS_ALIGNED(x, a) (((x) & ((a)-1)) == 0)
#define S2_ALIGN_DOWN(x, a) ((x) & ~((uint64_t)(a)-1))
#define S2_ALIGN_UP(x, a) (((x) + ((uint64_t)(a)-1)) & ~((uint64_t)(a)-1))
#define S2_MIN(a, b) ((a) < (b) ? (a) : (b))
#define S2_MAX(a, b) ((a) > (b) ? (a) : (b))

/* The core must not call the C library: these are small, portable replacements. */
/** s2_memzero() - zero @n bytes at @p (byte by byte through a volatile pointer). */
static inline void s2_memzero(void *p, size_t n)
{
	volatile unsigned char *c = (volatile unsigned char *)p;
	while (n--)
		*c++ = 0;
}

#endif /* S2MMU_ENV_H */
