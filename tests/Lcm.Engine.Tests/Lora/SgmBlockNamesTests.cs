using Lcm.Engine.Loaders.Lora;

namespace Lcm.Tests.Lora;

/// <summary>
/// Kohya's SGM UNet names as diffusers maps them (<c>_maybe_map_sgm_blocks_to_diffusers</c>, then
/// <c>_convert_unet_lora_key</c>); each expectation worked out by hand from diffusers' rules.
/// </summary>
public sealed class SgmBlockNamesTests
{
    [Theory]
    // SDXL: two layers per block, so three SGM input blocks per down block after conv_in.
    [InlineData("input_blocks_1_0_in_layers_2", 2, "down_blocks_0_resnets_0_conv1")]
    [InlineData("input_blocks_2_0_emb_layers_1", 2, "down_blocks_0_resnets_1_time_emb_proj")]
    [InlineData("input_blocks_3_0_op", 2, "down_blocks_0_downsamplers_0_conv")]
    [InlineData("input_blocks_4_0_skip_connection", 2, "down_blocks_1_resnets_0_conv_shortcut")]
    [InlineData("input_blocks_4_1_proj_in", 2, "down_blocks_1_attentions_0_proj_in")]
    [InlineData("input_blocks_5_1_transformer_blocks_1_attn1_to_q", 2, "down_blocks_1_attentions_1_transformer_blocks_1_attn1_to_q")]
    [InlineData("input_blocks_8_1_transformer_blocks_9_ff_net_0_proj", 2, "down_blocks_2_attentions_1_transformer_blocks_9_ff_net_0_proj")]
    [InlineData("middle_block_0_out_layers_3", 2, "mid_block_resnets_0_conv2")]
    [InlineData("middle_block_1_transformer_blocks_0_attn2_to_k", 2, "mid_block_attentions_0_transformer_blocks_0_attn2_to_k")]
    [InlineData("middle_block_2_in_layers_2", 2, "mid_block_resnets_1_conv1")]
    [InlineData("output_blocks_0_0_in_layers_2", 2, "up_blocks_0_resnets_0_conv1")]
    [InlineData("output_blocks_2_1_proj_out", 2, "up_blocks_0_attentions_2_proj_out")]
    [InlineData("output_blocks_2_2_conv", 2, "up_blocks_0_upsamplers_0_conv")]
    [InlineData("output_blocks_5_2_conv", 2, "up_blocks_1_upsamplers_0_conv")]
    [InlineData("output_blocks_8_0_skip_connection", 2, "up_blocks_2_resnets_2_conv_shortcut")]
    // SD 1.5: one layer per block.
    [InlineData("input_blocks_4_1_proj_in", 1, "down_blocks_1_attentions_1_proj_in")]
    [InlineData("output_blocks_3_1_transformer_blocks_0_attn2_to_v", 1, "up_blocks_1_attentions_1_transformer_blocks_0_attn2_to_v")]
    public void Sgm_blocks_map_to_diffusers_blocks_by_layers_per_block(string sgm, int layersPerBlock, string diffusers) =>
        Assert.Equal(diffusers, SgmBlockNames.Map(sgm, layersPerBlock));

    [Theory]
    [InlineData("input_blocks_0_0_conv")] // conv_in, in no down block
    [InlineData("input_blocks_4_3_proj_in")] // inner index beyond resnets, attentions, upsamplers
    [InlineData("middle_block_3_proj_in")]
    [InlineData("output_blocks_x_1_proj_in")]
    [InlineData("input_blocks_4_1")]
    [InlineData("time_embed_0")]
    [InlineData("out_2")]
    public void Names_outside_the_blocks_have_no_diffusers_name(string sgm) => Assert.Null(SgmBlockNames.Map(sgm, 2));
}
