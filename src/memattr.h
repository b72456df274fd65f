/* SPDX-License-Identifier: MIT */
/*
 * Stage-2 MemAttr encodings (Arm ARM D8.6.5 without FEAT_S2FWB, D8.6.6 with it): the one place
 * the field values are written down. src/arch.c's table (s2_memattr_encode(),
 * s2_memattr_type(), s2_memattrs_from_stage2()) is built from them, and the engine writes and
 * tests leaves with them, so the two cannot disagree. Private to src/.
 */
#ifndef S2MMU_SRC_MEMATTR_H
#define S2MMU_SRC_MEMATTR_H

/* Without FWB: MemAttr[3:2] 00 Device of kind MemAttr[1:0], else outer (01 NC, 10 WT, 11 WB)
 * and inner (MemAttr[1:0], likewise; 00 reserved). */
#define S2_MA_DEVICE_nGnRnE 0x0u
#define S2_MA_DEVICE_nGnRE 0x1u
#define S2_MA_DEVICE_nGRE 0x2u
#define S2_MA_DEVICE_GRE 0x3u
#define S2_MA_NORMAL_NC 0x5u /* the same value with FWB */
#define S2_MA_NORMAL_WT 0xau
#define S2_MA_NORMAL_WB 0xfu
/* With FWB: MemAttr[2] 0 Device (kinds as above), 0b101 NC, 0b110 WB, 0b111 stage 1's
 * attributes, 0b100 reserved; MemAttr[3] is ignored by the type. */
#define S2_MA_FWB_NORMAL_WB 0x6u
#define S2_MA_FWB_NORMAL_S1 0x7u
#define S2_MA_FWB_RESERVED 0x4u
#define S2_MA_FWB_TYPE_MASK 0x7u

/* Device (0b00xx, both modes) and Normal-NC may not be executable (ARCH-NOTES §1). */
#define S2_MA_DEVICE_MAX S2_MA_DEVICE_GRE

#endif
