/**
 * A sampler over the diffusion model's timesteps. The pipeline asks it which timestep each step
 * runs at, how to scale the model input, and how to move the latent given the predicted noise.
 */
export interface Scheduler {
  readonly name: string;
  /** The timestep given to the UNet at each step (may be fractional). */
  readonly timesteps: readonly number[];
  /** The initial latent is standard normal noise times this. */
  readonly initNoiseSigma: number;
  /** Whether `step` consumes fresh noise (ancestral samplers). */
  readonly stochastic: boolean;
  scaleModelInput(x: Float32Array, i: number): Float32Array;
  /** alpha_cumprod of the scaled model input at step i (to turn a v prediction into noise). */
  alphaCumprod(i: number): number;
  /** x at step i and the guided noise prediction -> x for step i + 1; `noise` is used by stochastic samplers. */
  step(eps: Float32Array, i: number, x: Float32Array, noise?: Float32Array): Float32Array;
}
