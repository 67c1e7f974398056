# SPDX-License-Identifier: GPL-2.0-only
# kvm-dune: Dune mode for Linux 6.12 KVM, its libdune and its selftests.
#
#   make run          build, boot under QEMU (AMD SVM, TCG) and run the demo
#   make run-sandbox  the same for dune-sandbox (apps/sandbox)
#   make check        unit tests, kernel build, selftests under svm and vmx
#   make check-debug  the same with the debug kernel (KASAN, lockdep, ...)
#   make check-debug-svm  the debug kernel under svm only (what CI runs)
#   make kernel       prepare build/linux from patches/ and build it (test)
#   make initramfs    build/initramfs.cpio.gz with the selftests
#   make check-svm / check-vmx / check-kvm   one backend
#   make bench        benchmarks, one table (BACKEND=svm|vmx|kvm, default svm)
#
# Logs are in build/logs/. Variables: SUITE (default all), CPUS, MEM,
# SERIAL=1 (run the backends one after the other in check),
# INJECT=fail|panic|hang (harness self-test: a failing test, a kernel panic,
# a hang; each must make the check fail).

SHELL := /bin/bash
SUITE ?= all
SERIAL ?=
CPUS ?=
MEM ?=
INJECT ?=

RUN_OPTS := $(if $(CPUS),--cpus $(CPUS)) $(if $(MEM),--mem $(MEM)) \
	$(if $(INJECT),--inject $(INJECT))
CHECK_OPTS := $(if $(SERIAL),--serial)

# $(call stage,NAME,COMMANDS): run COMMANDS, print how long they took.
define stage
	@t0=$$(date +%s); echo "==> $(1)"; \
	( $(2) ); rc=$$?; \
	echo "<== $(1): $$([ $$rc = 0 ] && echo done || echo FAILED) ($$(( $$(date +%s) - t0 ))s)"; \
	exit $$rc
endef

.PHONY: series-check all run run-sandbox check check-debug check-debug-svm check-svm check-vmx check-kvm unit kernel \
	kernel-debug initramfs bench clean-logs help

all: help

help:
	@sed -n '2,17p' Makefile | sed 's/^# \{0,1\}//'

kernel:
	$(call stage,kernel (test),scripts/kernel-prepare.sh --keep && scripts/build-kernel.sh test >/dev/null)

kernel-debug:
	$(call stage,kernel (debug),scripts/kernel-prepare.sh --keep && scripts/build-kernel.sh debug >/dev/null)

initramfs:
	$(call stage,initramfs,scripts/mkinitramfs.sh build/initramfs.cpio.gz)

# Host-side unit tests: libdune's page tables, layout and descriptors on
# plain memory, link checks, dune-run; no KVM needed.
unit:
	$(call stage,unit tests (libdune),$(MAKE) -s -C libdune && $(MAKE) -s -C libdune test)
	$(call stage,unit tests (console parser),scripts/harness/test-parser.sh)
	$(call stage,unit tests (apps/sandbox policy),$(MAKE) -s -C apps/sandbox test)

check-svm check-vmx check-kvm: check-%:
	$(call stage,selftests on $*,scripts/run-suite.sh --backend $* --suite $(SUITE) $(RUN_OPTS))

check: unit kernel
	$(call stage,selftests on svm and vmx,scripts/harness/check-backends.sh $(CHECK_OPTS) svm vmx -- --suite $(SUITE) $(RUN_OPTS))

check-debug: unit kernel-debug
	$(call stage,selftests on svm and vmx (debug kernel),scripts/harness/check-backends.sh --flavour debug $(CHECK_OPTS) svm vmx -- --suite $(SUITE) $(RUN_OPTS))

# CI's share of the debug-kernel runs: the whole suite under svm (about 7
# minutes of emulation; the vmx debug run takes much longer under Bochs,
# see README, Reliability).
check-debug-svm: kernel-debug
	$(call stage,selftests on svm (debug kernel),scripts/run-suite.sh --backend svm --flavour debug --suite $(SUITE) $(RUN_OPTS))

# The demo: libdune's dune-demo (a VMCALL system call, an in-process page
# fault, a ring-3 round trip) in the patched kernel booted under QEMU (svm).
run: kernel
	$(call stage,libdune,$(MAKE) -s -C libdune)
	$(call stage,demo on svm,scripts/run-suite.sh --backend svm --suite dune-demo --extra libdune/build/dune-demo --show $(RUN_OPTS))

# The sandbox: dune-sandbox running a few programs (apps/sandbox).
run-sandbox: kernel
	$(call stage,sandbox demo on svm,scripts/run-suite.sh --backend svm --suite sandbox-demo --extra apps/sandbox/sandbox-demo.sh --show $(RUN_OPTS))

bench:
	$(call stage,benchmarks on $(or $(BACKEND),svm),scripts/bench.sh --backend $(or $(BACKEND),svm) $(if $(CPUS),--cpus $(CPUS)) $(if $(MEM),--mem $(MEM)))

# checkpatch --strict on every patch and a module build after every patch.
series-check:
	$(call stage,series check,scripts/kernel-prepare.sh --keep && scripts/series-check.sh)

clean-logs:
	rm -rf build/logs
