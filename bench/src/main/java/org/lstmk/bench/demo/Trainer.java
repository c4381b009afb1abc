package org.lstmk.bench.demo;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * The training loop: fresh seeded batches every step, the test MSE on a fixed seeded test set every
 * {@code evalEvery} steps, a progress line each time (step, training loss, test MSE, sequences/s), until the test MSE
 * reaches {@code stopMse} or {@code maxSteps} steps are done. Deterministic for a given backend and seed.
 */
public final class Trainer {
    /** How to train. */
    public record Options(int batch, int maxSteps, int evalEvery, int testSize, double stopMse, long seed) {}

    /** One evaluation: the step after which it ran and the test MSE. */
    public record Eval(int step, double mse) {}

    /** What a run did. */
    public record Result(int steps, double testMse, double baselineMse, double seconds, List<Double> trainLoss,
                         List<Eval> evals, long forwardNs, long backwardNs, long headNs, long updateNs, long packNs) {
        /** Training throughput: sequences per second of the training steps (evaluations not counted). */
        public double sequencesPerSecond(int batch) {
            return steps * (double) batch / ((forwardNs + backwardNs + headNs + updateNs + packNs) / 1e9);
        }
    }

    private Trainer() {}

    /** The test set of a task and seed: the same sequences for every run with that seed, never seen in training. */
    public static Task.Batch testSet(Task task, int size, long seed) {
        return task.generate(size, new SplittableRandom(seed ^ 0x7e57_5e7L));
    }

    public static Result train(Task task, SequenceModel model, Options o, PrintStream out) {
        SplittableRandom rnd = new SplittableRandom(o.seed());
        Task.Batch test = testSet(task, o.testSize(), o.seed());
        double baseline = task.baselineMse(test);
        List<Double> losses = new ArrayList<>();
        List<Eval> evals = new ArrayList<>();
        long fwd = 0, bwd = 0, head = 0, upd = 0, pack = 0;
        if (out != null) {
            out.printf(Locale.ROOT, "%7s  %10s  %10s  %8s  %8s%n", "step", "train loss", "test MSE", "seq/s", "elapsed");
        }
        long start = System.nanoTime(), lastPrint = start;
        double intervalLoss = 0, mse = Double.NaN;
        int step = 0, intervalSteps = 0;
        while (step < o.maxSteps()) {
            SequenceModel.StepStats s = model.trainStep(task.generate(o.batch(), rnd));
            step++;
            if (!Double.isFinite(s.loss())) {
                if (out != null) out.printf("step %d: the loss is %s; stopping%n", step, s.loss());
                mse = Double.NaN;
                break;
            }
            losses.add(s.loss());
            intervalLoss += s.loss();
            intervalSteps++;
            fwd += s.forwardNs(); bwd += s.backwardNs(); head += s.headNs(); upd += s.updateNs(); pack += s.packNs();
            if (step % o.evalEvery() == 0 || step == o.maxSteps()) {
                long trained = System.nanoTime();   // sequences/s of training, without the evaluation
                mse = model.mse(test);
                evals.add(new Eval(step, mse));
                long now = System.nanoTime();
                if (out != null) {
                    out.printf(Locale.ROOT, "%7d  %10.4g  %10.4g  %8.0f  %7.1fs%n", step, intervalLoss / intervalSteps, mse,
                            intervalSteps * (double) o.batch() / ((trained - lastPrint) / 1e9), (now - start) / 1e9);
                }
                lastPrint = now;
                intervalLoss = 0;
                intervalSteps = 0;
                if (mse <= o.stopMse()) break;
            }
        }
        if (intervalSteps > 0 || evals.isEmpty() || evals.getLast().step() != step) {
            mse = model.mse(test);
            evals.add(new Eval(step, mse));
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        return new Result(step, mse, baseline, seconds, losses, evals, fwd, bwd, head, upd, pack);
    }
}
