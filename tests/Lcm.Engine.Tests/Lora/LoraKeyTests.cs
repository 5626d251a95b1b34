using Lcm.Engine.Loaders.Lora;

namespace Lcm.Tests.Lora;

/// <summary>The key formats: kohya and diffusers/PEFT names meet in one flat module name, which node scopes flatten to as well.</summary>
public sealed class LoraKeyTests
{
    [Theory]
    [InlineData("lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q.lora_down.weight", LoraComponent.Unet, LoraPart.Down)]
    [InlineData("lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q.lora_up.weight", LoraComponent.Unet, LoraPart.Up)]
    [InlineData("lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q.alpha", LoraComponent.Unet, LoraPart.Alpha)]
    [InlineData("unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.lora_A.weight", LoraComponent.Unet, LoraPart.Down)]
    [InlineData("unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.lora_B.weight", LoraComponent.Unet, LoraPart.Up)]
    [InlineData("unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.lora.down.weight", LoraComponent.Unet, LoraPart.Down)]
    [InlineData("unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.lora.up.weight", LoraComponent.Unet, LoraPart.Up)]
    public void Both_formats_name_the_same_module(string key, LoraComponent component, LoraPart part)
    {
        Assert.Equal(new LoraKey(component, "down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q", part, Kohya: key.StartsWith("lora_", StringComparison.Ordinal)), LoraKey.Parse(key));
        Assert.Equal("down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q",
            GraphWeights.ModuleOf("/down_blocks.0/attentions.0/transformer_blocks.0/attn1/to_q/MatMul"));
    }

    [Theory]
    [InlineData("lora_te_text_model_encoder_layers_11_mlp_fc1.lora_down.weight", LoraComponent.TextEncoder)]
    [InlineData("lora_te1_text_model_encoder_layers_11_mlp_fc1.lora_down.weight", LoraComponent.TextEncoder)] // SDXL's first
    [InlineData("lora_te2_text_model_encoder_layers_11_mlp_fc1.lora_down.weight", LoraComponent.TextEncoder2)] // SDXL's second
    [InlineData("text_encoder.text_model.encoder.layers.11.mlp.fc1.lora_A.weight", LoraComponent.TextEncoder)]
    [InlineData("text_encoder_2.text_model.encoder.layers.11.mlp.fc1.lora_A.weight", LoraComponent.TextEncoder2)]
    public void Text_encoder_keys_name_their_text_encoders_module(string key, LoraComponent component)
    {
        Assert.Equal(new LoraKey(component, "text_model_encoder_layers_11_mlp_fc1", LoraPart.Down, Kohya: key.StartsWith("lora_", StringComparison.Ordinal)), LoraKey.Parse(key));
        Assert.Equal("text_model_encoder_layers_11_mlp_fc1", GraphWeights.ModuleOf("/text_model/encoder/layers.11/mlp/fc1/MatMul"));
    }

    [Theory]
    [InlineData("lora_unet_conv_out.hada_w1_a")] // LoHa
    [InlineData("lora_unet_conv_out.dora_scale")] // DoRA
    [InlineData("lora_te3_text_model_encoder_layers_0_mlp_fc1.lora_down.weight")] // no third text encoder
    [InlineData("text_encoder_3.text_model.encoder.layers.0.mlp.fc1.lora_A.weight")]
    [InlineData("lora_unet_input_blocks_1_1_proj_in")] // no part suffix
    [InlineData("unet.lora_A.weight")] // no module
    [InlineData("vae.decoder.conv_in.lora_A.weight")]
    [InlineData("base_model.model.down_blocks.0.attentions.0.proj_in.lora_A.weight")]
    public void Other_names_are_not_lora_keys(string key) => Assert.Null(LoraKey.Parse(key));

    [Theory]
    [InlineData("MatMul_12")]
    [InlineData("/MatMul")]
    [InlineData("onnx::MatMul_5")]
    public void Unscoped_node_names_belong_to_no_module(string nodeName) => Assert.Null(GraphWeights.ModuleOf(nodeName));
}
