package org.lstmk.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import org.lstmk.bench.demo.AddingProblem;
import org.lstmk.bench.demo.Charts;
import org.lstmk.bench.demo.SequenceModel;
import org.lstmk.bench.demo.SineTask;
import org.lstmk.bench.demo.Sparkline;
import org.lstmk.bench.demo.Task;
import org.lstmk.bench.demo.Trainer;
import org.lstmk.models.PyTorchExporter;

/**
 * {@code lstmk demo [--task adding|sine|check] [--backend NAME] [--out DIR] [--seed N] [--steps N] [--hidden N]
 * [--batch N] [--lr X] [--save FILE]}: trains an LSTM with a dense head (Adam, MSE, gradient clipping; all in
 * {@code org.lstmk.bench.demo}) on generated seeded data through the library's training API, prints progress and
 * the final test MSE against the task's trivial baseline, and writes the loss curve (and for {@code sine} a
 * prediction chart) as PNG; {@code --save} writes the trained LSTM as a PyTorch {@code nn.LSTM} state_dict in
 * safetensors ({@code weight_ih_l0}, ...; no prefix), which {@code lstmk infer} and PyTorch load. Exit 0 when the test MSE reaches the task's target, 1 when not.
 * {@code --task check} is the kernel check: one random forward + backward, timed and compared with the reference.
 */
final class DemoCommand {
    private DemoCommand() {}

    static final String USAGE = "usage: demo [--task adding|sine|check] [--backend NAME] [--out DIR] [--seed N]"
            + " [--steps N] [--hidden N] [--batch N] [--lr X] [--save FILE]";

    /** The settings of one task; the defaults are chosen so that it is solved in a few minutes on 2 cores. */
    record Settings(String task, String backend, Path out, long seed, int steps, int hidden, int layers, int batch,
                    double lr, double clip, int evalEvery, int testSize, Path save) {}

    static int run(String[] args) {
        String task = "adding", backend = null;
        Path out = Path.of("."), save = null;
        Long seed = null;
        Integer steps = null, hidden = null, batch = null;
        Double lr = null;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (!List.of("--task", "--backend", "--out", "--seed", "--steps", "--hidden", "--batch", "--lr", "--save").contains(a)) {
                System.err.println("lstmk demo: unknown option " + a + " (" + USAGE + ")");
                return 2;
            }
            if (i + 1 >= args.length) {
                System.err.println("lstmk demo: " + a + " needs a value (" + USAGE + ")");
                return 2;
            }
            String v = args[++i];
            try {
                switch (a) {
                    case "--task" -> task = v;
                    case "--backend" -> backend = v;
                    case "--out" -> out = Path.of(v);
                    case "--save" -> save = Path.of(v);
                    case "--seed" -> seed = Long.parseLong(v);
                    case "--steps" -> steps = positive(a, Integer.parseInt(v));
                    case "--hidden" -> hidden = positive(a, Integer.parseInt(v));
                    case "--batch" -> batch = positive(a, Integer.parseInt(v));
                    case "--lr" -> {
                        lr = Double.parseDouble(v);
                        if (!(lr > 0 && Double.isFinite(lr))) throw new NumberFormatException();
                    }
                    default -> throw new AssertionError(a);
                }
            } catch (NumberFormatException e) {
                System.err.println("lstmk demo: " + a + " needs a positive number, got '" + v + "' (" + USAGE + ")");
                return 2;
            }
        }
        if (task.equals("check")) return KernelCheck.run(backend);
        Settings s = switch (task) {
            case "adding" -> new Settings(task, backend, out, 1, 4000, 64, 1, 32, 0.01, 1.0, 100, 1000, save);
            case "sine" -> new Settings(task, backend, out, 1, 3000, 32, 2, 32, 0.01, 1.0, 100, 500, save);
            default -> null;
        };
        if (s == null) {
            System.err.println("lstmk demo: unknown task '" + task + "' (adding, sine or check; " + USAGE + ")");
            return 2;
        }
        s = new Settings(s.task(), s.backend(), s.out(), seed != null ? seed : s.seed(), steps != null ? steps : s.steps(),
                hidden != null ? hidden : s.hidden(), s.layers(), batch != null ? batch : s.batch(),
                lr != null ? lr : s.lr(), s.clip(), s.evalEvery(), s.testSize(), s.save());
        return train(s);
    }

    private static int positive(String option, int v) {
        if (v <= 0) throw new NumberFormatException(option);
        return v;
    }

    static int train(Settings s) {
        Task task = s.task().equals("adding") ? new AddingProblem(100) : new SineTask(50);
        try {
            Files.createDirectories(s.out());
        } catch (IOException e) {
            throw new IllegalArgumentException("--out " + s.out() + ": cannot create the directory (" + e.getMessage() + ")");
        }
        try (SequenceModel model = new SequenceModel(s.backend(), task.inputSize(), s.hidden(), s.layers(),
                task.outputSize(), task.steps(), task.outputSteps(), s.batch(), s.lr(), s.clip(), s.seed())) {
            System.out.println(describe(task));
            System.out.printf(Locale.ROOT, "model: LSTM %d layer(s), H=%d, dense head %d→%d on %s; %d parameters%n",
                    s.layers(), s.hidden(), s.hidden(), task.outputSize(),
                    task.outputSteps() == 1 ? "the last step" : task.outputSteps() == task.steps() ? "every step"
                            : "each of the last " + task.outputSteps() + " steps", model.parameterCount());
            System.out.printf(Locale.ROOT, "training: Adam lr=%s, batch %d, gradient clip %.1f (global norm), up to %d steps"
                    + " (stop at test MSE < %.3g), seed %d; test set %d sequences%n",
                    java.math.BigDecimal.valueOf(s.lr()).stripTrailingZeros().toPlainString(), s.batch(), s.clip(),
                    s.steps(), task.targetMse() / 2, s.seed(), s.testSize());
            System.out.println("backend: " + model.backendDescription());
            Trainer.Result r = Trainer.train(task, model, new Trainer.Options(s.batch(), s.steps(), s.evalEvery(),
                    s.testSize(), task.targetMse() / 2, s.seed()), System.out);
            System.out.println();
            System.out.println("loss    " + Sparkline.of(r.trainLoss(), 64, true) + "  (training loss, log scale)");
            long total = r.forwardNs() + r.backwardNs() + r.headNs() + r.updateNs() + r.packNs();
            System.out.printf(Locale.ROOT, "time    %.1f s, %d steps, %.0f sequences/s (training) on %s; per step: forward %.1f ms,"
                            + " backward %.1f ms, head+loss %.2f ms, clip+Adam %.2f ms, re-pack %.2f ms (%.1f%%)%n",
                    r.seconds(), r.steps(), r.sequencesPerSecond(s.batch()), model.backendName(),
                    ms(r.forwardNs(), r.steps()), ms(r.backwardNs(), r.steps()), ms(r.headNs(), r.steps()),
                    ms(r.updateNs(), r.steps()), ms(r.packNs(), r.steps()), 100.0 * r.packNs() / total);
            Path lossPng = s.out().resolve("lstmk-demo-" + task.name() + ".png").toAbsolutePath().normalize();
            charts(task, model, s, r, lossPng);
            boolean ok = r.testMse() < task.targetMse();
            System.out.printf(Locale.ROOT, "result  test MSE %.3g (target < %.3g); baseline, %s: %.4g (%.0f× better)%n",
                    r.testMse(), task.targetMse(), task.baselineName(), r.baselineMse(), r.baselineMse() / r.testMse());
            if (s.save() != null) save(model, s.save());
            System.out.println(ok ? "solved on " + model.backendName()
                    : "NOT solved on " + model.backendName() + ": the test MSE did not reach the target in " + r.steps()
                    + " steps");
            return ok ? 0 : 1;
        }
    }

    /** The LSTM's weights as PyTorch's state_dict; the dense head is the demo's own and is not part of it. */
    private static void save(SequenceModel model, Path file) {
        try {
            PyTorchExporter.save(model.weights(), file);
        } catch (IOException e) {
            throw new IllegalArgumentException("--save " + file + ": cannot write (" + e.getMessage() + ")", e);
        }
        System.out.println("saved   the LSTM (" + model.config().layers() + " layer(s), H=" + model.config().hiddenSize()
                + ") as a PyTorch nn.LSTM state_dict: " + file.toAbsolutePath().normalize()
                + " (./lstmk infer --model, or torch: nn.LSTM(...).load_state_dict(safetensors.torch.load_file(...)))");
    }

    private static double ms(long ns, int steps) {
        return steps == 0 ? 0 : ns / 1e6 / steps;
    }

    private static String describe(Task task) {
        return switch (task.name()) {
            case "adding" -> "task: the adding problem, T=" + task.steps() + " steps of (value in [0,1], marker); target:"
                    + " the sum of the 2 marked values";
            default -> "task: next-value prediction on sine waves (random frequency and phase), T=" + task.steps()
                    + "; the target at each step is the next value (from step " + SineTask.CONTEXT + " on: the first "
                    + SineTask.CONTEXT + " are context)";
        };
    }

    private static void charts(Task task, SequenceModel model, Settings s, Trainer.Result r, Path lossPng) {
        try {
            Charts.lossCurve(lossPng, "lstmk demo: " + task.name() + " (" + model.backendName() + ")", r.trainLoss(),
                    r.evals(), r.baselineMse(), task.baselineName(), task.targetMse());
            System.out.println("chart   " + lossPng + "  (loss curve)");
            if (task instanceof SineTask sine) {
                Path predPng = lossPng.resolveSibling("lstmk-demo-sine-prediction.png");
                // A wave the model has not seen: one-step predictions over T steps, then as many generated freely.
                java.util.SplittableRandom rnd = new java.util.SplittableRandom(s.seed() ^ 0x5eed_c4a7L);
                double omega = rnd.nextDouble(SineTask.MIN_OMEGA, SineTask.MAX_OMEGA), phi = rnd.nextDouble(2 * Math.PI);
                int t = sine.steps(), n = 2 * t + 1;
                float[] truth = new float[n], primer = new float[t];
                for (int i = 0; i < n; i++) truth[i] = (float) Math.sin(omega * i + phi);
                System.arraycopy(truth, 0, primer, 0, t);
                float[] gen = model.generate(primer, t);
                float[] oneStep = new float[n], free = new float[n];
                java.util.Arrays.fill(oneStep, Float.NaN);
                java.util.Arrays.fill(free, Float.NaN);
                for (int i = SineTask.CONTEXT; i < t; i++) oneStep[i + 1] = gen[i];
                free[t] = truth[t];
                for (int i = t; i < 2 * t; i++) free[i + 1] = gen[i];
                Charts.series(predPng, String.format(Locale.ROOT, "lstmk demo: sine, ω = %.3f (%s)", omega,
                                model.backendName()), "step", "value",
                        List.of("truth sin(ωt + φ)", "one-step prediction (input: the true values)",
                                "free-running (input: its own last prediction)"), List.of(truth, oneStep, free));
                System.out.println("chart   " + predPng + "  (prediction vs truth)");
            }
        } catch (IOException | RuntimeException | Error e) {
            System.out.println("chart   not written (" + e + ")");
        }
    }
}
