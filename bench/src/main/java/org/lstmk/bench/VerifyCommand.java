package org.lstmk.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.lstmk.api.BackendInfo;
import org.lstmk.api.Lstm;
import org.lstmk.reference.ReferenceBackend;
import org.lstmk.verify.Comparison;
import org.lstmk.verify.ConformanceSuite;

/**
 * {@code lstmk verify [--backend NAME]}: the conformance matrix ({@link ConformanceSuite#matrix()}: layers,
 * directions, lengths, projection, peepholes, clip, sizes, layouts, states, gradient modes) for every usable
 * backend, each on the cases it supports; the cases it lacks a feature for are counted and named, never passed.
 * Exit 1 on any mismatch.
 */
final class VerifyCommand {
    private VerifyCommand() {}

    static int run(String[] args) {
        String only = null;
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--backend") && i + 1 < args.length) only = args[++i];
            else if (args[i].equals("--backend")) {
                System.err.println("lstmk verify: --backend needs a backend name (usage: verify [--backend NAME])");
                return 2;
            } else {
                System.err.println("lstmk verify: unknown option " + args[i] + " (usage: verify [--backend NAME])");
                return 2;
            }
        }
        List<String> backends = new ArrayList<>();
        for (BackendInfo b : Lstm.backends()) {
            if (only != null ? b.name().equalsIgnoreCase(only) : b.usable() && !b.name().equals(ReferenceBackend.NAME)) {
                if (!b.usable()) {
                    System.err.println("lstmk verify: backend '" + b.name() + "' cannot run here: " + b.detail());
                    return 1;
                }
                backends.add(b.name());
            }
        }
        if (backends.isEmpty()) {
            System.err.println(only != null ? "lstmk verify: no backend named '" + only + "'"
                    : "lstmk verify: no backend besides the reference is usable here");
            return 1;
        }
        int failures = 0;
        System.out.printf("%-10s %-60s %-14s %-9s %-9s %s%n", "backend", "case", "worst", "max abs", "of bound", "result");
        for (String backend : backends) {
            java.util.Map<String, Integer> lacking = new java.util.TreeMap<>();
            int ran = 0;
            for (ConformanceSuite.Case c : ConformanceSuite.matrix()) {
                String why = ConformanceSuite.unsupported(c, backend);
                if (why != null) {
                    lacking.merge(why, 1, Integer::sum);
                    continue;
                }
                ran++;
                ConformanceSuite.Outcome o = ConformanceSuite.run(c, backend, 0);
                Comparison.Result w = o.worst();
                System.out.printf(Locale.ROOT, "%-10s %-60s %-14s %-9.2e %-9.3f %s%n", backend, c, w.name(),
                        o.results().stream().mapToDouble(Comparison.Result::maxAbs).max().orElse(0), w.margin(),
                        o.passed() ? "ok" : "MISMATCH");
                if (!o.passed()) {
                    failures++;
                    o.results().stream().filter(r -> !r.passed()).forEach(r -> System.out.println("    " + r.describe()));
                }
            }
            System.out.printf("%s: %d case(s) run%s%n", backend, ran, lacking.isEmpty() ? ""
                    : "; not run (backend lacks the feature): " + lacking);
        }
        System.out.println(failures == 0 ? "all backends agree with the reference"
                : failures + " case(s) disagree with the reference");
        return failures == 0 ? 0 : 1;
    }
}
